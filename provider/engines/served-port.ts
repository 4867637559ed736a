import { InvalidArgumentError } from "../errors.ts";
import { BOUNDS } from "../rules.ts";

// What every engine checks before it opens a stream to a sandbox's port: the
// port is a TCP port the sandbox itself declares, so a caller (a token's
// record, a tunnel) can never point a forward at any other.

/** Why `port` of sandbox `id` cannot be opened, or undefined when it is one the sandbox serves. */
export function servedPortProblem(id: string, port: number, served: readonly number[]): string | undefined {
  if (!Number.isInteger(port) || port < BOUNDS.port.min || port > BOUNDS.port.max)
    return `port ${String(port)} is not a TCP port (${String(BOUNDS.port.min)}-${String(BOUNDS.port.max)})`;
  if (!served.includes(port)) {
    const list = served.length > 0 ? served.join(", ") : "none";
    return `port ${String(port)} is not one that sandbox ${id} serves (its ports: ${list})`;
  }
  return undefined;
}

/** Throws the refusal of servedPortProblem, if any. */
export function requireServedPort(id: string, port: number, served: readonly number[]): void {
  const problem = servedPortProblem(id, port, served);
  if (problem) throw new InvalidArgumentError(problem);
}
