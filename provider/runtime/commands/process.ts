import { Readable, type Writable } from "node:stream";
import type { Engine } from "../../engines/port.ts";
import type { ContainerInfo, ExecResult } from "../../engines/port.ts";
import { InvalidArgumentError } from "../../errors.ts";
import { ruleProblem, wholeSecondsProblem } from "../../rules.ts";
import { readAll } from "../../streams.ts";
import { KILLED_EXIT_CODE, type RunningCommand, type WindowSize } from "../supervisor/command-contract.ts";
import { startEngineCommand } from "./engine-command.ts";
import { supervisorConnection } from "../supervisor/connections.ts";
import { startSupervisedCommand } from "../supervisor/command.ts";

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
  /**
   * User to run as; default the sandbox's. Another user than the sandbox's is
   * run by the engine, which can switch users; the supervisor cannot.
   */
  user?: string;
  /** Ends the command, and every process it started, after this long; it then reports exit code 137 and `timedOut`. */
  timeoutMs?: number;
  /**
   * The command's stdin stays open for writing through `process.stdin`
   * (default true, as in Modal: end it with `process.stdin.end()`); false
   * gives the command end-of-input at once.
   */
  stdin?: boolean;
  /** Environment variables from secrets, laid over `env` in order; never printed. */
  secrets?: Record<string, string>[];
  /** "ignore" drops the command's stdout as it comes (it then reads as empty); default "pipe". */
  stdout?: "pipe" | "ignore";
  /** "ignore" drops the command's stderr as it comes; default "pipe". */
  stderr?: "pipe" | "ignore";
  /**
   * Run the command on a pseudo-terminal, of this size (`true`: 24 rows, 80
   * columns). Its output, stderr included, then comes on stdout; stdin is open.
   */
  pty?: boolean | WindowSize;
}

/** Where a command runs: the sandbox, and whether its supervisor can take the command. */
export interface ExecTarget {
  id: string;
  supervised: boolean;
  /** The container as just read (a handle's first command): its connection need not read it again. */
  inspected?: ContainerInfo | undefined;
}

const DEFAULT_WINDOW: WindowSize = { rows: 24, cols: 80 };

/**
 * A command running in a sandbox: stdout and stderr as streams, stdin as a
 * writable stream (when asked for), and its exit code from `wait()`.
 */
export class SandboxProcess {
  readonly stdout: Readable;
  readonly stderr: Readable;
  readonly #command: RunningCommand;
  readonly #pty: boolean;
  readonly #exit: Promise<number>;
  #timedOut = false;
  #killed = false;
  #reason: ExecEndReason | undefined;
  #exitCode: number | null = null;

  private constructor(command: RunningCommand, pty: boolean, wasOomKilled: () => Promise<boolean>) {
    this.#command = command;
    this.#pty = pty;
    this.stdout = command.stdout;
    this.stderr = command.stderr;
    this.#exit = command.wait().then(async ({ exitCode, timedOut, oom }) => {
      this.#timedOut = timedOut;
      if (timedOut) this.#reason = "timeout";
      else if (this.#killed) this.#reason = "killed";
      else if (oom ?? (exitCode === KILLED_EXIT_CODE && (await wasOomKilled()))) this.#reason = "oom";
      this.#exitCode = exitCode;
      return exitCode;
    });
    // A caller that never waits (fire and forget) must not crash its process when the engine goes away.
    this.#exit.catch(() => undefined);
  }

  static async start(
    docker: Engine,
    target: ExecTarget,
    argv: readonly string[],
    params: ExecParams = {},
  ): Promise<SandboxProcess> {
    const problems = execParamsProblems(argv, params);
    if (problems.length > 0) throw new InvalidArgumentError(`invalid exec: ${problems.join("; ")}`);
    const pty = params.pty === true ? DEFAULT_WINDOW : params.pty || undefined;
    const env = Object.assign({}, params.env, ...(params.secrets ?? [])) as Record<string, string>;
    const spec = {
      argv,
      ...(Object.keys(env).length > 0 ? { env } : {}),
      ...(params.workdir ? { workdir: params.workdir } : {}),
      ...(params.timeoutMs !== undefined ? { timeoutMs: params.timeoutMs } : {}),
      // A terminal always has an input; closing it would hang the terminal up.
      stdin: params.stdin !== false || pty !== undefined,
      ...(pty ? { pty } : {}),
    };
    const command =
      target.supervised && params.user === undefined
        ? startSupervisedCommand(await supervisorConnection(docker, target.id, target.inspected), spec)
        : await startEngineCommand(docker, target.id, { ...spec, ...(params.user ? { user: params.user } : {}) });
    const startedMs = Date.now();
    const wasOomKilled = async () => {
      // Only for a command the engine ran itself: the supervisor tells its own commands' OOM exactly.
      // The engine reports the kernel's kill as an "oom" event of the container, a moment after the exit.
      for (let attempt = 0; attempt < 4; attempt++) {
        const events = await docker.events.containerEvents({
          sinceMs: startedMs,
          untilMs: Date.now(),
          actions: ["oom"],
          labels: {},
          containerId: target.id,
        });
        if (events.some((e) => e.timeMs >= startedMs)) return true;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return false;
    };
    return new SandboxProcess(ignoring(command, params), pty !== undefined, wasOomKilled);
  }

  /** The command's input; throws when the command was started with `stdin: false`. */
  get stdin(): Writable {
    const stdin = this.#command.stdin;
    if (!stdin) throw new Error("this command was started with stdin: false, so its input is closed");
    return stdin;
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
    await this.#command.kill();
  }

  /** Sends a signal (by number, e.g. 15 for SIGTERM) to the command and every process it started. */
  async signal(signal: number): Promise<void> {
    if (!Number.isInteger(signal) || signal < 1 || signal > 64) {
      throw new InvalidArgumentError(`not a signal number: ${String(signal)}`);
    }
    await this.#command.signal(signal);
  }

  /** Sets the size of the command's terminal (a command started with `pty`); the program sees SIGWINCH. */
  async resize(size: WindowSize): Promise<void> {
    if (!this.#pty) throw new InvalidArgumentError("only a command started with { pty } has a terminal to resize");
    if (!validWindow(size)) throw new InvalidArgumentError(WINDOW_PROBLEM);
    await this.#command.resize(size);
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

/** The command with an ignored output drained as it comes, and read as empty. */
function ignoring(command: RunningCommand, params: ExecParams): RunningCommand {
  const drop = (stream: Readable): Readable => {
    stream.resume();
    return Readable.from([]);
  };
  return {
    ...command,
    stdout: params.stdout === "ignore" ? drop(command.stdout) : command.stdout,
    stderr: params.stderr === "ignore" ? drop(command.stderr) : command.stderr,
  };
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
  if (params.user !== undefined) {
    const reason = ruleProblem("user", params.user);
    if (reason) problems.push(`user ${JSON.stringify(params.user)} ${reason}`);
  }
  for (const [index, secret] of (params.secrets ?? []).entries()) {
    if (typeof secret !== "object" || Object.values(secret).some((value) => typeof value !== "string")) {
      problems.push(`secrets[${String(index)}] must map names to string values`);
    }
  }
  if (typeof params.pty === "object" && !validWindow(params.pty)) {
    problems.push(`pty: ${WINDOW_PROBLEM}`);
  }
  return problems;
}

const WINDOW_PROBLEM = "a terminal's rows and cols are whole numbers from 1 to 65535";

function validWindow(size: WindowSize): boolean {
  return [size.rows, size.cols].every((n) => Number.isInteger(n) && n >= 1 && n <= 65535);
}
