import { PassThrough } from "node:stream";
import { randomHex } from "../../digest.ts";
import { InvalidArgumentError } from "../../errors.ts";
import { runToEnd } from "../calls.ts";
import type { ExecClient, ExecInfo, ExecProcess } from "../port.ts";
import type { KubeApis } from "./api.ts";
import type { KubeCall } from "./errors.ts";
import { openExec } from "./exec-failure.ts";
import { EXEC_PROTOCOLS, exitCodeOf, joinExecChannels } from "./kube-http/exec-channels.ts";
import { SANDBOX_CONTAINER } from "./pod-spec.ts";

export { exitCodeOf };

/**
 * Execs through the API server's exec subresource (a WebSocket per exec,
 * v5 of the channel protocol, which carries stdin's end). The API has no
 * exec objects to inspect: this process keeps the ones it started.
 */
export function execClient(
  apis: () => Promise<KubeApis>,
  call: KubeCall,
): ExecClient & {
  idsOf(podId: string): string[];
  /** Runs `argv` in a pod: for the engine's own needs (ending a supervised sandbox). */
} {
  const execs = new Map<string, { podId: string; info: ExecInfo }>();
  const podOf = async (podId: string) => {
    const { core, namespace } = await apis();
    return core.readNamespacedPod({ name: podId, namespace });
  };
  const start: ExecClient["start"] = async (containerId, spec, options = {}) => {
    if (spec.user || spec.workdir || (spec.env && Object.keys(spec.env).length > 0)) {
      // The exec subresource runs as the container's user, in its working directory, with its environment.
      throw new InvalidArgumentError(
        "an exec on Kubernetes cannot choose its user, directory or environment; sandboxes there run commands through the supervisor",
      );
    }
    // The WebSocket client loads with the first exec: a process that never execs on a cluster never loads it.
    const [{ http, namespace }, { openSocket }] = await Promise.all([apis(), import("./kube-http/socket.ts")]);
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const stdin = options.stdin === true ? new PassThrough() : undefined;
    const execId = `${containerId}-${randomHex(6)}`;
    const record = { podId: containerId, info: { running: true, exitCode: null } as ExecInfo };
    execs.set(execId, record);
    let settle!: (code: number) => void;
    const exited = new Promise<number>((resolve) => {
      settle = resolve;
    });
    const socket = await call(`exec in pod ${containerId}`, () =>
      openExec(
        () => podOf(containerId),
        containerId,
      )(() =>
        openSocket(
          http,
          `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(containerId)}/exec`,
          {
            container: SANDBOX_CONTAINER,
            command: [...spec.argv],
            stdin: stdin !== undefined,
            stdout: true,
            stderr: true,
            tty: spec.tty === true,
          },
          EXEC_PROTOCOLS,
        ),
      ),
    );
    joinExecChannels(socket, { stdout, stderr, ...(stdin ? { stdin } : {}) }, (status) => {
      settle(exitCodeOf(status));
    });
    // A connection that fails after opening ends the exec as a close does.
    socket.on("error", () => undefined);
    socket.on("close", () => {
      settle(record.info.exitCode ?? 255); // closed without a status: the pod went away
      stdout.end();
      stderr.end();
    });
    const wait = async () => {
      const code = await exited;
      record.info = { running: false, exitCode: code };
      return code;
    };
    void wait();
    const process: ExecProcess = {
      execId,
      stdout,
      stderr,
      stdin,
      wait,
      hold(keep) {
        const raw = socket._socket;
        if (keep) raw?.ref();
        else raw?.unref();
      },
    };
    return process;
  };
  return {
    start,
    async run(containerId, spec) {
      return runToEnd(await start(containerId, spec));
    },
    async inspect(execId) {
      return execs.get(execId)?.info;
    },
    async resize() {
      throw new InvalidArgumentError("resizing a terminal is not available on Kubernetes yet");
    },
    async signalTagged() {
      throw new InvalidArgumentError(
        "signalling an exec is not available on Kubernetes; sandboxes there run commands through the supervisor",
      );
    },
    idsOf(podId) {
      return [...execs].filter(([, e]) => e.podId === podId && e.info.running).map(([id]) => id);
    },
  };
}
