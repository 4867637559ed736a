// The words of sandbox events, apart from how they are read, so that the spec can name them without an engine client.

/** What happens to a sandbox, in the order it happens. */
export type SandboxEventKind = "created" | "ready" | "claimed" | "paused" | "resumed" | "ended";

/**
 * Why a sandbox ended: its timeout or idle timeout, the kernel's OOM killer,
 * its own main command exiting, someone terminating it, or the engine ending
 * it (Kubernetes: its node lost, its pod evicted for a resource: "evicted:
 * disk", "evicted: memory", "evicted: api" for the Eviction API).
 */
export type EndedReason = "timeout" | "idle" | "oom" | "exit" | "terminated" | EngineEndReason;

/** The ends an engine tells itself (ContainerTrouble's reasons for an end). */
export type EngineEndReason = "node-lost" | `evicted: ${string}`;

const ENGINE_END = /^(node-lost|evicted: [a-z][a-z-]{0,30})$/;

/** An engine's word for why it ended a container, when it is one sandfleet tells; else undefined. */
export function engineEndReason(value: string | undefined): EngineEndReason | undefined {
  return value !== undefined && ENGINE_END.test(value) ? (value as EngineEndReason) : undefined;
}

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
  /** What the engine said of an end it caused (kind "ended"): the pod, its node and the cluster's words. */
  detail?: string;
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
