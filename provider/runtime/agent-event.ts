import type { Engine } from "../engines/port.ts";
import type { EndReason } from "./lifetime.ts";

// What the agent's parts tell it: the agent runs them (agent.ts), and each
// part (metrics, idle pauses, pool refills) reports in these words.

export interface AgentEvent {
  action: "ended" | "paused" | "resumed" | "refilled" | "expired" | "error";
  sandbox?: string;
  reason?: EndReason;
  detail?: string;
}

/** One part of what the agent keeps true, run on every pass. */
export type Reconciler = (docker: Engine, nowMs: number) => Promise<AgentEvent[]>;
