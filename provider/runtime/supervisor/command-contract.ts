import type { Readable, Writable } from "node:stream";

/** Exit code of a process ended by SIGKILL (128 + 9), which a command ended by its timeout reports too, as Modal's do. */
export const KILLED_EXIT_CODE = 137;

/** The signal that ends a process for sure. */
export const SIGKILL = 9;

/** A terminal's size in character cells. */
export interface WindowSize {
  rows: number;
  cols: number;
}

/** What starting a command needs, whichever path runs it. */
export interface CommandSpec {
  argv: readonly string[];
  env?: Record<string, string>;
  workdir?: string;
  /** Ends the command and everything it started after this long. */
  timeoutMs?: number;
  /** Keep stdin open for writing; without it the command reads end-of-input at once. */
  stdin: boolean;
  /** Run on a pseudo-terminal of this size. */
  pty?: WindowSize;
}

/**
 * A command running in a sandbox, through the supervisor or through the
 * engine: both paths give these same semantics.
 */
export interface RunningCommand {
  readonly stdout: Readable;
  readonly stderr: Readable;
  readonly stdin: Writable | undefined;
  /** The exit code once the command has ended and its output is drained, and whether its timeout ended it. */
  /**
   * `oom`: whether the kernel killed the command for memory, where the one
   * that ran it can tell (the supervisor); undefined where it cannot.
   */
  wait(): Promise<{ exitCode: number; timedOut: boolean; oom?: boolean }>;
  /** Ends the command and every process it started. */
  kill(): Promise<void>;
  /** Sends a signal (a number SandboxProcess has checked) to the command and every process it started. */
  signal(signal: number): Promise<void>;
  /** Sets the size of the command's terminal (one started with a PTY, as SandboxProcess has checked). */
  resize(size: WindowSize): Promise<void>;
}
