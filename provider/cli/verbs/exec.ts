import { parseDuration } from "../../index.ts";
import { client } from "../client.ts";
import { printJson } from "../output.ts";
import { listOption, pairs, stringOption, UsageError, type Verb } from "../verb.ts";

export const exec: Verb = {
  usage:
    "sandfleet exec SANDBOX [--timeout 30s] [--workdir DIR] [--user USER] [--env K=V]... [--json] -- COMMAND [ARG...]",
  examples: [
    "sandfleet exec code-interpreter/sb-1 -- python3 -c 'print(6 * 7)'",
    "echo data | sandfleet exec 3f2a9c -- wc -c",
  ],
  options: {
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
    const sandbox = await client().sandboxes.fromRef(ref);
    // Piped input goes to the command; a terminal does not.
    const withStdin = !process.stdin.isTTY;
    const workdir = stringOption(values, "workdir");
    const user = stringOption(values, "user");
    const running = await sandbox.exec(rest, {
      env: pairs(listOption(values, "env"), "--env"),
      ...(workdir ? { workdir } : {}),
      ...(user ? { user } : {}),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      stdin: withStdin,
    });
    if (withStdin) {
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
