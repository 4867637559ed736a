import type { Engine } from "../../engines/port.ts";
import type { EngineEndReason } from "../engine-state/event-kinds.ts";
import type { EndReason } from "../sandboxes/lifetime.ts";

// What the agent's parts tell it: the agent runs them (agent.ts), and each
// part (metrics, idle pauses, pool refills) reports in these words.

export interface AgentEvent {
  /** `replaced`: a pool member the engine ended (its node lost, an eviction), removed and made again; `detail` says what the engine said. */
  action: "ended" | "paused" | "resumed" | "refilled" | "replaced" | "expired" | "error";
  sandbox?: string;
  /** Why it ended: what the agent ended it for (timeout, idle), or what the engine said (node-lost, evicted: disk). */
  reason?: EndReason | EngineEndReason;
  detail?: string;
}

/** One part of what the agent keeps true, run on every pass. */
export type Reconciler = (docker: Engine, nowMs: number) => Promise<AgentEvent[]>;
