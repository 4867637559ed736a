import {
  ConflictError,
  EngineError,
  EngineUnavailableError,
  InvalidArgumentError,
  NotFoundError,
  SandfleetError,
} from "../errors.ts";

interface DockerodeError {
  statusCode?: number;
  code?: string;
  /** Where a failed connection went: a socket path, or a host with `port`. */
  address?: string;
  port?: number;
  json?: { message?: string } | null;
  reason?: string;
  message?: string;
}

const unreachableCodes = new Set(["ECONNREFUSED", "ENOENT", "EACCES", "ECONNRESET", "EHOSTUNREACH", "ETIMEDOUT"]);

/**
 * Translates what dockerode throws into sandfleet's error classes, with the
 * engine's own message kept and `what` saying which operation failed.
 */
export function translateDockerError(error: unknown, what: string): SandfleetError {
  if (error instanceof SandfleetError) return error;
  const e = (error ?? {}) as DockerodeError;
  const engineMessage = (e.json?.message ?? e.reason ?? e.message ?? String(error)).trim();
  if (e.code && unreachableCodes.has(e.code)) {
    return new EngineUnavailableError(`${what}: the Docker engine ${engineAddress(e)} is unreachable (${e.code})`);
  }
  switch (e.statusCode) {
    case 400:
      return new InvalidArgumentError(`${what}: ${engineMessage}`);
    case 404:
      return new NotFoundError(`${what}: ${engineMessage}`);
    case 409:
      return new ConflictError(`${what}: ${engineMessage}`);
    default:
      return new EngineError(`${what}: ${engineMessage}`);
  }
}

function engineAddress(e: DockerodeError): string {
  if (!e.address) return "";
  if (e.port !== undefined) return `at tcp://${e.address}:${String(e.port)}`;
  return `at unix://${e.address}`;
}

/** Runs an engine call and translates its failure. */
export async function engineCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw translateDockerError(error, what);
  }
}

/** Like engineCall, but a 404 becomes `undefined`: for inspect-or-absent reads. */
export async function engineLookup<T>(what: string, call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (error) {
    const translated = translateDockerError(error, what);
    if (translated instanceof NotFoundError) return undefined;
    throw translated;
  }
}
