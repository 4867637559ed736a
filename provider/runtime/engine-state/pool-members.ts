import type { ContainerSummary, ContainerTrouble } from "../../engines/port.ts";
import { LABEL } from "./labels.ts";
import { objectName } from "./names.ts";

/*
 * A member's state is in its container name, since a rename is the one atomic
 * test-and-set the engine offers:
 *   sandfleet-pm-<n>-<app>-<pool>-p-<id>   pending: made, not yet ready
 *   sandfleet-pm-<n>-<app>-<pool>-w-<id>   warm: ready, claimable
 *   sandfleet-pm-<n>-<app>-<pool>-c-<id>   claimed
 * (see names.ts for the encoding; the id is hex, so the state parses from the right).
 * Two claimers renaming the same warm member to the same claimed name cannot
 * both succeed: the engine refuses a rename to the name a container already
 * has. When it was claimed, from which its lifetime counts, is kept in a
 * labelled claim record (a volume) the winner writes next.
 */
export type MemberState = "pending" | "warm" | "claimed";

export interface PoolMember {
  id: string;
  containerName: string;
  memberId: string;
  state: MemberState;
  templateHash: string;
  running: boolean;
  paused: boolean;
  createdMs: number;
  /** The process making it, while pending (see maker.ts). */
  maker: string | undefined;
  /** What the engine says is wrong with it (Kubernetes: its node lost, evicted, not Ready): it is never claimed. */
  trouble?: ContainerTrouble;
}

function prefix(app: string, pool: string): string {
  return objectName("member", app, `${pool}-`);
}

export function memberName(app: string, pool: string, state: "p" | "w" | "c", memberId: string): string {
  return `${prefix(app, pool)}${state}-${memberId}`;
}

export function parseMember(app: string, pool: string, c: ContainerSummary): PoolMember | undefined {
  const rest = c.name.startsWith(prefix(app, pool)) ? c.name.slice(prefix(app, pool).length) : undefined;
  const match = rest === undefined ? null : /^([pwc])-([0-9a-f]+)$/.exec(rest);
  if (!match) return undefined;
  const states = { p: "pending", w: "warm", c: "claimed" } as const;
  return {
    id: c.id,
    containerName: c.name,
    memberId: match[2] ?? "",
    state: states[match[1] as "p" | "w" | "c"],
    templateHash: c.labels[LABEL.template] ?? "",
    running: c.status === "running",
    paused: c.status === "paused",
    createdMs: c.createdMs,
    maker: c.labels[LABEL.maker],
    ...(c.trouble ? { trouble: c.trouble } : {}),
  };
}
