import { parseDuration, type SandboxProcess, type WindowSize } from "../../index.ts";
import { client } from "../client.ts";
import { printJson } from "../output.ts";
import { listOption, pairs, stringOption, UsageError, type Verb } from "../verb.ts";

export const exec: Verb = {
  usage:
    "sandfleet exec SANDBOX [-i] [-t] [--timeout 30s] [--workdir DIR] [--user USER] [--env K=V]... [--json] -- COMMAND [ARG...]",
  examples: [
    "sandfleet exec code-interpreter/sb-1 -- python3 -c 'print(6 * 7)'",
    "echo data | sandfleet exec 3f2a9c -- wc -c",
    "sandfleet exec -it code-interpreter/sb-1 -- sh",
  ],
  options: {
    interactive: { type: "boolean", short: "i" },
    tty: { type: "boolean", short: "t" },
    timeout: { type: "string" },
    workdir: { type: "string" },
    user: { type: "string" },
    env: { type: "string", multiple: true },
  },
  async run({ values, positionals, rest, json }) {
    const [ref] = positionals;
    if (!ref || rest.length === 0) throw new UsageError("needs a sandbox and a command after --");
    const timeout = stringOption(values, "timeout");
    const timeoutMs = timeout === undefined ? undefined : parseDuration(timeout);
    if (timeout !== undefined && timeoutMs === undefined)
      throw new UsageError(`--timeout ${timeout} is not a duration like 30s`);
    const tty = values.tty === true;
    if (tty && json) throw new UsageError("--tty and --json do not go together: a terminal's output is not JSON");
    const sandbox = await client().sandboxes.fromRef(ref);
    // Piped input goes to the command; a terminal only with -i.
    const withStdin = values.interactive === true || !process.stdin.isTTY;
    const workdir = stringOption(values, "workdir");
    const user = stringOption(values, "user");
    const running = await sandbox.exec(rest, {
      env: pairs(listOption(values, "env"), "--env"),
      ...(workdir ? { workdir } : {}),
      ...(user ? { user } : {}),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      stdin: withStdin,
      ...(tty ? { pty: windowSize() } : {}),
    });
    if (tty) attachTerminal(running, withStdin);
    else if (withStdin) {
      process.stdin.pipe(running.stdin);
      // A caller's pipe may never close (an agent that spawns with stdin open): once the
      // command has ended, its input is no reason to keep running.
      void running
        .wait()
        .catch(() => undefined)
        .finally(() => process.stdin.destroy());
    }
    if (json) {
      const result = await running.output();
      printJson(result);
      return result.exitCode;
    }
    running.stdout.pipe(process.stdout);
    running.stderr.pipe(process.stderr);
    const code = await running.wait();
    if (running.timedOut) process.stderr.write(`sandfleet: command ended by its timeout (${String(timeout)})\n`);
    if (running.reason === "oom") {
      process.stderr.write("sandfleet: command killed for using more memory than the sandbox has (oom)\n");
    }
    return code;
  },
};

/** This terminal's size, or a common one when output is not a terminal. */
function windowSize(): WindowSize {
  const { rows, columns } = process.stdout;
  return process.stdout.isTTY ? { rows, cols: columns } : { rows: 24, cols: 80 };
}

/**
 * Joins this terminal to the command's: keys go through raw (Ctrl-C reaches
 * the command, not this process), output comes back as the terminal drew
 * it, and a resize here is a resize there.
 */
function attachTerminal(running: SandboxProcess, withStdin: boolean): void {
  const local = process.stdin;
  const raw = withStdin && local.isTTY;
  if (raw) local.setRawMode(true);
  if (withStdin) local.pipe(running.stdin);
  const onResize = () => void running.resize(windowSize()).catch(() => undefined);
  process.stdout.on("resize", onResize);
  void running
    .wait()
    .catch(() => undefined)
    .finally(() => {
      process.stdout.off("resize", onResize);
      if (raw) local.setRawMode(false);
      local.destroy();
    });
}
