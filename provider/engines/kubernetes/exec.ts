import { PassThrough } from "node:stream";
import type { V1Status } from "@kubernetes/client-node";
import { randomHex } from "../../digest.ts";
import { InvalidArgumentError } from "../../errors.ts";
import { runToEnd } from "../calls.ts";
import type { ExecClient, ExecInfo, ExecProcess } from "../port.ts";
import type { KubeApis } from "./api.ts";
import type { KubeCall } from "./errors.ts";
import { openExec } from "./exec-failure.ts";
import { SANDBOX_CONTAINER } from "./pod-spec.ts";

interface ExecSocket {
  on(event: "close", listener: () => void): void;
  _socket?: { ref(): void; unref(): void };
}

/** The exit code in an exec's closing status: Success is 0, a failure names its code as a cause. */
export function exitCodeOf(status: V1Status): number {
  if (status.status === "Success") return 0;
  const cause = status.details?.causes?.find((c) => c.reason === "ExitCode");
  if (cause?.message !== undefined) return Number(cause.message);
  return 126; // the command could not be run at all
}

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
    const { lib, config, namespace } = await apis();
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
    // The library's WebSocket type does not resolve here; what is used of it is this.
    const socket = (await call(`exec in pod ${containerId}`, () =>
      openExec(
        () => podOf(containerId),
        containerId,
      )(() =>
        new lib.Exec(config).exec(
          namespace,
          containerId,
          SANDBOX_CONTAINER,
          [...spec.argv],
          stdout,
          stderr,
          stdin ?? null,
          spec.tty === true,
          (status) => {
            settle(exitCodeOf(status));
          },
        ),
      ),
    )) as unknown as ExecSocket;
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
