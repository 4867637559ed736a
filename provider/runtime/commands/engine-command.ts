import type { Engine } from "../../engines/port.ts";
import { KILLED_EXIT_CODE, SIGKILL, type CommandSpec, type RunningCommand } from "../supervisor/command-contract.ts";
import { watchStartFailure } from "../supervisor/engine-start-failure.ts";
import { withResume } from "../engine-state/resume.ts";

// Every process an exec starts inherits this variable, which is how a timeout
// or a kill finds them all, children included, to end them.
const MARK = "SANDFLEET_EXEC";

let marks = 0;

// The engine sets a terminal's size only after the command has started (and
// this engine's API cannot pass it at create), so the command would read 0x0:
// the terminal gets its size first, from the image's sh and stty.
const SIZED_TERMINAL = ["sh", "-c", 'stty rows "$1" cols "$2" 2>/dev/null; shift 2; exec "$@"', "sh"];

/**
 * A value no other exec has: this process, the time and a count. It needs to
 * be unique, not secret (a process that copies another exec's mark only makes
 * itself one more process to end), so it costs no random bytes, whose module
 * would cost every `sandfleet exec` ~10 ms to load.
 */
function uniqueMark(): string {
  marks++;
  return [process.pid, Date.now(), marks, Math.floor(Math.random() * 2 ** 32)].map((n) => n.toString(36)).join("-");
}

/**
 * A command run by the engine's own exec: for sandboxes without a
 * supervisor, and for a command run as another user, which only the engine
 * can switch to. Its timeout is kept here, by this process.
 */
export async function startEngineCommand(
  docker: Engine,
  containerId: string,
  spec: CommandSpec & { user?: string },
): Promise<RunningCommand> {
  const mark = uniqueMark();
  const exec = await withResume(docker, containerId, () =>
    docker.exec.start(
      containerId,
      {
        argv: spec.pty ? [...SIZED_TERMINAL, String(spec.pty.rows), String(spec.pty.cols), ...spec.argv] : spec.argv,
        env: { ...spec.env, [MARK]: mark },
        ...(spec.workdir ? { workdir: spec.workdir } : {}),
        ...(spec.user ? { user: spec.user } : {}),
        ...(spec.pty ? { tty: true } : {}),
      },
      { stdin: spec.stdin },
    ),
  );
  if (spec.pty) await docker.exec.resize(exec.execId, spec.pty.rows, spec.pty.cols);
  const signalTree = async (signal: number) => {
    // As the same user, where it runs inside: with every capability dropped, root cannot
    // signal another user's processes.
    await docker.exec.signalTagged(containerId, { key: MARK, value: mark }, signal, spec.user);
  };
  let timedOut = false;
  const timer =
    spec.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          void signalTree(SIGKILL).catch(() => undefined);
        }, spec.timeoutMs);
  const watched = watchStartFailure(exec, exec.wait());
  const exit = watched.exitCode.finally(() => {
    clearTimeout(timer);
  });
  return {
    stdout: watched.stdout,
    stderr: watched.stderr,
    stdin: spec.stdin ? exec.stdin : undefined,
    async wait() {
      const exitCode = await exit;
      return { exitCode: timedOut ? KILLED_EXIT_CODE : exitCode, timedOut };
    },
    kill: () => signalTree(SIGKILL),
    signal: signalTree,
    async resize(size) {
      await docker.exec.resize(exec.execId, size.rows, size.cols);
    },
  };
}
