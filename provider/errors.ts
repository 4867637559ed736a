/**
 * One error hierarchy for everything sandfleet throws. Docker's status codes
 * are translated into these in one place (`docker/errors.ts`), so callers can
 * branch on the class and users read one message shape.
 */
export class SandfleetError extends Error {
  override readonly name: string = "SandfleetError";
}

/** The Docker engine could not be reached at all. */
export class EngineUnavailableError extends SandfleetError {
  override readonly name: string = "EngineUnavailableError";
}

/** The thing asked for (container, image, network, volume) does not exist. */
export class NotFoundError extends SandfleetError {
  override readonly name: string = "NotFoundError";
}

/** The thing conflicts with something that exists, e.g. a name already taken. */
export class ConflictError extends SandfleetError {
  override readonly name: string = "ConflictError";
}

/** Input that sandfleet refuses before touching the engine. */
export class InvalidArgumentError extends SandfleetError {
  override readonly name: string = "InvalidArgumentError";
}

/** The engine answered, but with an error sandfleet has no better name for. */
export class EngineError extends SandfleetError {
  override readonly name: string = "EngineError";
}

/** Something did not become ready in time; the message names what and why. */
export class TimeoutError extends SandfleetError {
  override readonly name: string = "TimeoutError";
}

/** A command in a sandbox exited non-zero; carries the whole result. */
export class CommandExitError extends SandfleetError {
  override readonly name: string = "CommandExitError";
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;

  constructor(argv: readonly string[], result: { exitCode: number; stdout: string; stderr: string }) {
    const detail = result.stderr.trim() || result.stdout.trim();
    super(
      `command ${JSON.stringify(argv)} exited with code ${result.exitCode}` +
        (detail ? `: ${lastLines(detail, 5)}` : ""),
    );
    this.exitCode = result.exitCode;
    this.stdout = result.stdout;
    this.stderr = result.stderr;
  }
}

function lastLines(text: string, count: number): string {
  return text.split("\n").slice(-count).join("\n");
}

/**
 * The engine ended a sandbox before it started: on Kubernetes, its pod was
 * placed on a node the cluster then found lost, or evicted. Making another
 * may well succeed (the cluster now places it elsewhere); `reason` is the
 * end's ("node-lost", "evicted: disk").
 */
export class SandboxLostError extends EngineError {
  override readonly name: string = "SandboxLostError";
  readonly reason: string;

  constructor(message: string, reason: string) {
    super(message);
    this.reason = reason;
  }
}

/** A warm pool had no ready member to claim. */
export class PoolExhaustedError extends SandfleetError {
  override readonly name: string = "PoolExhaustedError";
}

/** A file call met a folder where it needs a file. */
export class IsADirectoryError extends InvalidArgumentError {
  override readonly name: string = "IsADirectoryError";
}

/** A file call met a file where it needs a folder (the path itself, or one of its parents). */
export class NotADirectoryError extends InvalidArgumentError {
  override readonly name: string = "NotADirectoryError";
}

/** A file read would return more than its `maxBytes` (64 MiB unless given). */
export class FileTooLargeError extends InvalidArgumentError {
  override readonly name: string = "FileTooLargeError";
}

/** What a file call would make is there already. */
export class AlreadyExistsError extends ConflictError {
  override readonly name: string = "AlreadyExistsError";
}

/** A folder to remove without `recursive` still holds something. */
export class DirectoryNotEmptyError extends ConflictError {
  override readonly name: string = "DirectoryNotEmptyError";
}

/** An image build failed; `output` holds what the build printed, for the step that failed. */
export class ImageBuildError extends EngineError {
  override readonly name: string = "ImageBuildError";
  readonly output: string;
  constructor(message: string, output: string) {
    super(message);
    this.output = output;
  }
}
