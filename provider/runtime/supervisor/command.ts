import { PassThrough } from "node:stream";
import { SandfleetError } from "../../errors.ts";
import { SIGKILL, type CommandSpec, type RunningCommand } from "./command-contract.ts";
import { failureOf, type SupervisorConnection } from "./connection.ts";
import { FRAME, jsonPayload, parsePayload } from "./frames.ts";
import { OP, type ExecRequest, type ExitReply, type SignalRequest, type WindowSize } from "./protocol.ts";

/**
 * A command run by the sandbox's supervisor, on one channel of a connection.
 * Its timeout is kept inside the sandbox, by the supervisor.
 */
export function startSupervisedCommand(connection: SupervisorConnection, spec: CommandSpec): RunningCommand {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let settle: {
    resolve: (exit: { exitCode: number; timedOut: boolean; oom: boolean }) => void;
    reject: (error: Error) => void;
  };
  const exit = new Promise<{ exitCode: number; timedOut: boolean; oom: boolean }>((resolve, reject) => {
    settle = { resolve, reject };
  });
  // A caller that never waits must not get an unhandled rejection.
  exit.catch(() => undefined);
  const finish = () => {
    stdout.end();
    stderr.end();
  };
  const request: ExecRequest = {
    op: OP.exec,
    argv: [...spec.argv],
    ...(spec.env ? { env: spec.env } : {}),
    ...(spec.workdir ? { workdir: spec.workdir } : {}),
    ...(spec.timeoutMs !== undefined ? { timeoutMs: spec.timeoutMs } : {}),
    ...(spec.pty ? { pty: spec.pty } : {}),
  };
  const channel = connection.openChannel(request, {
    frame(frame) {
      if (frame.kind === FRAME.stdout) stdout.write(frame.payload);
      else if (frame.kind === FRAME.stderr) stderr.write(frame.payload);
      else if (frame.kind === FRAME.exit) {
        const reply = parsePayload<ExitReply>(frame.payload);
        finish();
        // The supervisor tells the kernel's kill for memory itself (supervisor/proc/oom.go).
        settle.resolve({
          exitCode: reply?.exitCode ?? -1,
          timedOut: reply?.timedOut === true,
          oom: reply?.oom === true,
        });
      } else if (frame.kind === FRAME.failure) {
        finish();
        settle.reject(new SandfleetError(failureOf(frame.payload).message));
      }
    },
    lost(error) {
      finish();
      settle.reject(error);
    },
  });
  // Without stdin, the command reads end-of-input at once, as it would from the engine.
  if (!spec.stdin) connection.send(FRAME.endInput, channel);
  const signal = (signal: number) =>
    new Promise<void>((resolve) => {
      const request: SignalRequest = { signal };
      connection.send(FRAME.signal, channel, jsonPayload(request), () => {
        resolve();
      });
    });
  return {
    stdout,
    stderr,
    stdin: spec.stdin ? connection.inputStream(channel) : undefined,
    wait: () => exit,
    kill: () => signal(SIGKILL),
    signal,
    async resize(size) {
      const request: WindowSize = { rows: size.rows, cols: size.cols };
      connection.send(FRAME.resize, channel, jsonPayload(request));
      return Promise.resolve();
    },
  };
}
