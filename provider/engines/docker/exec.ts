import { PassThrough } from "node:stream";
import { runToEnd } from "../calls.ts";
import { demuxInto } from "./demux.ts";
import { engineCall, engineLookup } from "./errors.ts";
import type { EngineHttp } from "./http.ts";
import { startBeside } from "./beside.ts";
import { signalTagged } from "./process-kill.ts";
import type { RawExec } from "./raw.ts";
import type { ContainerClient, ExecClient } from "../port.ts";

export function execClient(docker: EngineHttp, containers: ContainerClient): ExecClient {
  const inspectExec = (execId: string) => docker.json<RawExec>("GET", `/exec/${execId}/json`);
  const start: ExecClient["start"] = async (containerId, spec, options = {}) => {
    const withStdin = options.stdin === true;
    const exec = await engineCall(`exec in container ${containerId}`, () =>
      docker.json<{ Id: string }>("POST", `/containers/${encodeURIComponent(containerId)}/exec`, {
        body: {
          Cmd: [...spec.argv],
          AttachStdin: withStdin,
          AttachStdout: true,
          AttachStderr: true,
          Tty: spec.tty === true,
          ...(spec.env ? { Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`) } : {}),
          ...(spec.workdir ? { WorkingDir: spec.workdir } : {}),
          ...(spec.user ? { User: spec.user } : {}),
        },
      }),
    );
    const stream = await engineCall(`start exec in container ${containerId}`, () =>
      docker.upgrade(`/exec/${exec.Id}/start`, { Detach: false, Tty: spec.tty === true }),
    );
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    if (spec.tty) {
      // A terminal's output is one raw stream.
      stream.pipe(stdout);
      stream.once("end", () => stderr.end());
    } else {
      demuxInto(stream, stdout, stderr);
    }
    const ended = new Promise<void>((resolve, reject) => {
      stream.once("end", resolve);
      stream.once("close", resolve);
      stream.once("error", reject);
    });
    // Seen by wait(); a caller that never waits must not get an unhandled rejection.
    ended.catch(() => undefined);
    return {
      execId: exec.Id,
      stdout,
      stderr,
      stdin: withStdin ? stream : undefined,
      hold(keep) {
        const handle = stream as Partial<{ ref(): void; unref(): void }>;
        if (keep) handle.ref?.();
        else handle.unref?.();
      },
      async wait() {
        await ended;
        // The stream can end a moment before the engine records the exit code.
        for (;;) {
          const info = await engineCall(`inspect exec ${exec.Id}`, () => inspectExec(exec.Id));
          if (!info.Running && info.ExitCode !== null) return info.ExitCode;
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      },
    };
  };

  const run: ExecClient["run"] = async (containerId, spec) => runToEnd(await start(containerId, spec));

  return {
    start,
    run,
    startBeside: async (containerId, argv, inspected) =>
      startBeside(inspected?.id === containerId ? inspected : await containers.inspect(containerId), argv),
    async signalTagged(containerId, tag, signal, user) {
      await signalTagged(await containers.inspect(containerId), tag, signal, async (script, args) => {
        await run(containerId, { argv: ["sh", "-c", script, "sh", ...args], ...(user ? { user } : {}) });
      });
    },
    async resize(execId, rows, cols) {
      await engineCall(`resize exec ${execId}`, () =>
        docker.json("POST", `/exec/${execId}/resize`, { query: { h: rows, w: cols } }),
      );
    },
    async inspect(execId) {
      const info = await engineLookup(`inspect exec ${execId}`, () => inspectExec(execId));
      return info && { running: info.Running, exitCode: info.ExitCode };
    },
  };
}
