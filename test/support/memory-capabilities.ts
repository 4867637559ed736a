import type { Capability, EngineCapabilities } from "../../provider/engines/port.ts";
import { EngineError } from "../../provider/errors.ts";

/** What the in-memory engine cannot do; a test that meets it needs a real engine. */
export class NotSupportedError extends EngineError {
  override readonly name: string = "NotSupportedError";
}

export const notSupported = (what: string): NotSupportedError =>
  new NotSupportedError(`${what} is not supported by the in-memory engine`);

const unsupported = (what: string): Capability => ({
  supported: false,
  why: `${what} is not supported by the in-memory engine`,
});

/** What the in-memory engine does, said as honestly as the Docker engine says it. */
export const MEMORY_CAPABILITIES: EngineCapabilities = {
  // A state, as the freezer's: a paused container refuses execs (409) until it is thawed.
  pause: { supported: true },
  checkpoint: unsupported("a checkpoint"),
  egressAddresses: unsupported("an egress allowlist"),
  egressNames: unsupported("a name in an egress allowlist"),
  diskBound: unsupported("a disk bound"),
  subPathMounts: unsupported("mounting part of a volume"),
  snapshots: unsupported("a snapshot"),
  pidsBound: unsupported("a pids bound"),
  hostChannel: unsupported("a program beside a sandbox"),
  // The exec handler is told the user asked for.
  execUser: { supported: true },
  // Its containers carry published ports as Docker's do (no one listens on them).
  hostPorts: { supported: true },
};
