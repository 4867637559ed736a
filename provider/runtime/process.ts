import type { Readable, Writable } from "node:stream";
import type { DockerClient } from "../docker/client.ts";
import type { ExecProcess } from "../docker/exec.ts";
import type { ExecResult } from "../docker/types.ts";
import { InvalidArgumentError } from "../errors.ts";
import { ruleProblem } from "../rules.ts";
import { readAll } from "../streams.ts";
import { wholeSecondsProblem } from "./sandbox-params.ts";

/** Exit code reported for a command ended by its timeout, as timeout(1) does. */
export const TIMEOUT_EXIT_CODE = 124;

/** Exit code of a process ended by SIGKILL (128 + 9). */
const KILLED_EXIT_CODE = 137;

/**
 * Why a command ended, when it did not end by itself: its timeout, `kill()`,
 * or the kernel's out-of-memory killer (the sandbox's memory limit).
 */
export type ExecEndReason = "timeout" | "killed" | "oom";

export interface ExecParams {
  /** Extra environment variables for this command. */
  env?: Record<string, string>;
  /** Absolute working directory for this command. */
  workdir?: string;
  /** User to run as; default the sandbox's. */
  user?: string;
  /** Ends the command, and every process it started, after this long; it then reports exit code 124. */
  timeoutMs?: number;
  /** Open the command's stdin for writing (through `process.stdin`). Default false. */
  stdin?: boolean;
}

// Every process an exec starts inherits this variable, which is how a timeout
// or a kill finds them all, children included, to end them.
const MARK = "SANDFLEET_EXEC";

let marks = 0;

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
 * A command running in a sandbox: stdout and stderr as streams, stdin as a
 * writable stream (when asked for), and its exit code from `wait()`.
 */
export class SandboxProcess {
  readonly stdout: Readable;
  readonly stderr: Readable;
  readonly #stdin: Writable | undefined;
  readonly #exit: Promise<number>;
  readonly #kill: () => Promise<void>;
  #timedOut = false;
  #killed = false;
  #reason: ExecEndReason | undefined;
  #exitCode: number | null = null;

  private constructor(
    exec: ExecProcess,
    kill: () => Promise<void>,
    timeoutMs: number | undefined,
    wasOomKilled: () => Promise<boolean>,
  ) {
    this.stdout = exec.stdout;
    this.stderr = exec.stderr;
    this.#stdin = exec.stdin;
    this.#kill = kill;
    let timer: NodeJS.Timeout | undefined;
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        this.#timedOut = true;
        void kill().catch(() => undefined);
      }, timeoutMs);
    }
    this.#exit = exec
      .wait()
      .then(async (code) => {
        if (this.#timedOut) this.#reason = "timeout";
        else if (this.#killed) this.#reason = "killed";
        else if (code === KILLED_EXIT_CODE && (await wasOomKilled())) this.#reason = "oom";
        this.#exitCode = this.#timedOut ? TIMEOUT_EXIT_CODE : code;
        return this.#exitCode;
      })
      .finally(() => {
        clearTimeout(timer);
      });
    // A caller that never waits (fire and forget) must not crash its process when the engine goes away.
    this.#exit.catch(() => undefined);
  }

  static async start(
    docker: DockerClient,
    containerId: string,
    argv: readonly string[],
    params: ExecParams = {},
  ): Promise<SandboxProcess> {
    const problems = execParamsProblems(argv, params);
    if (problems.length > 0) throw new InvalidArgumentError(`invalid exec: ${problems.join("; ")}`);
    const mark = uniqueMark();
    const user = params.user;
    const exec = await docker.exec.start(
      containerId,
      {
        argv,
        env: { ...params.env, [MARK]: mark },
        ...(params.workdir ? { workdir: params.workdir } : {}),
        ...(user ? { user } : {}),
      },
      { stdin: params.stdin === true },
    );
    const kill = async () => {
      // As the same user, where it runs inside: with every capability dropped, root cannot
      // signal another user's processes.
      await docker.exec.killTagged(containerId, { key: MARK, value: mark }, user);
    };
    const startedMs = Date.now();
    const wasOomKilled = async () => {
      // The engine reports the kernel's kill as an "oom" event of the container, a moment after the exit.
      for (let attempt = 0; attempt < 4; attempt++) {
        const events = await docker.events.containerEvents({
          sinceMs: startedMs,
          untilMs: Date.now(),
          actions: ["oom"],
          labels: {},
          containerId,
        });
        if (events.some((e) => e.timeMs >= startedMs)) return true;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return false;
    };
    return new SandboxProcess(exec, kill, params.timeoutMs, wasOomKilled);
  }

  /** The command's input; throws unless the command was started with `stdin: true`. */
  get stdin(): Writable {
    if (!this.#stdin) throw new Error("this command was started without stdin; pass { stdin: true }");
    return this.#stdin;
  }

  /** The exit code once the command has ended, else null; never waits. */
  poll(): number | null {
    return this.#exitCode;
  }

  /** Whether the command was ended by its timeout. */
  get timedOut(): boolean {
    return this.#timedOut;
  }

  /** Resolves with the exit code once the command has ended and its output is drained. */
  wait(): Promise<number> {
    return this.#exit;
  }

  /** Ends the command and every process it started. */
  async kill(): Promise<void> {
    this.#killed = true;
    await this.#kill();
  }

  /** Why the command ended, once it has, when it did not end by itself: "timeout", "killed" or "oom". */
  get reason(): ExecEndReason | undefined {
    return this.#reason;
  }

  /** Waits for the end and collects everything the command wrote. */
  async output(): Promise<ExecResult & { timedOut: boolean; reason?: ExecEndReason }> {
    const { exitCode, stdout, stderr } = await this.outputBytes();
    return {
      exitCode,
      stdout: stdout.toString("utf8"),
      stderr,
      timedOut: this.#timedOut,
      ...(this.#reason ? { reason: this.#reason } : {}),
    };
  }

  /** Like output(), with stdout as bytes: for binary content. */
  async outputBytes(): Promise<{ exitCode: number; stdout: Buffer; stderr: string }> {
    const [stdout, stderr, exitCode] = await Promise.all([readAll(this.stdout), readAll(this.stderr), this.wait()]);
    return { exitCode, stdout, stderr: stderr.toString("utf8") };
  }
}

/** What is wrong with an exec's parameters, found before anything runs. */
function execParamsProblems(argv: readonly string[], params: ExecParams): string[] {
  const problems: string[] = [];
  if (argv.length === 0) problems.push("needs a command");
  if (params.timeoutMs !== undefined) {
    const reason = wholeSecondsProblem(params.timeoutMs);
    if (reason) problems.push(`timeoutMs ${reason}`);
  }
  if (params.workdir !== undefined) {
    const reason = ruleProblem("absolutePath", params.workdir);
    if (reason) problems.push(`workdir must be an absolute path, got: ${JSON.stringify(params.workdir)}`);
  }
  return problems;
}
