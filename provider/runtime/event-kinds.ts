// The words of sandbox events, apart from how they are read, so that the spec can name them without an engine client.

/** What happens to a sandbox, in the order it happens. */
export type SandboxEventKind = "created" | "ready" | "claimed" | "paused" | "resumed" | "ended";

/**
 * Why a sandbox ended: its timeout or idle timeout, the kernel's OOM killer,
 * its own main command exiting, or someone terminating it.
 */
export type EndedReason = "timeout" | "idle" | "oom" | "exit" | "terminated";

export interface SandboxEvent {
  /** ISO 8601, from the engine's clock. */
  time: string;
  kind: SandboxEventKind;
  app: string;
  /** The sandbox's name in its app. */
  sandbox: string;
  /** The container's id. */
  id: string;
  /** The pool a member belongs to. */
  pool?: string;
  /** Why it ended (kind "ended"). */
  reason?: EndedReason;
  /** What it reported (kind "ended"): 124 for a timeout, 137 when terminated. */
  exitCode?: number;
}

export const SANDBOX_EVENT_KINDS: readonly SandboxEventKind[] = [
  "created",
  "ready",
  "claimed",
  "paused",
  "resumed",
  "ended",
];

/** What tells one event from another: a stream replayed after a reconnect or a restart is told once. */
export function eventKey(event: Pick<SandboxEvent, "id" | "kind" | "time">): string {
  return `${event.id} ${event.kind} ${event.time}`;
}
