import type { PoolStatus } from "../client/pools.ts";
import type { ContainerSummary, EngineInfo } from "../engines/port.ts";
import { LABEL } from "../runtime/engine-state/labels.ts";
import { parseMember } from "../runtime/engine-state/pool-members.ts";

/** A sandbox as the dashboard shows it: its state, place, lifetime, limits and live use. */
export interface DashboardSandbox {
  id: string;
  app: string;
  name: string;
  pool: string | undefined;
  /** A pool member's place in its pool. */
  member: "pending" | "ready" | "claimed" | undefined;
  status: string;
  tags: Record<string, string>;
  createdAt: string;
  startedAt: string | undefined;
  exitCode: number | undefined;
  /** When its lifetime ends (ms since the epoch): a deadline set on it, else its start and timeout; none while warm. */
  deadlineMs: number | undefined;
  /** What its supervisor last said of its activity, and when it was asked (idle time goes on from there while nothing runs). */
  idle: { idleForMs: number; running: number; atMs: number } | undefined;
  limits: { cpu: number; memoryBytes: number; pids: number; timeoutMs?: number; idleTimeoutMs?: number };
  usage: { cpuPercent: number; memoryBytes: number; pids: number } | undefined;
}

/** What the header says of the engine: its kind, where it is, and what it answered of itself. */
export interface EngineDescription {
  kind: "Docker" | "Kubernetes";
  /** A DOCKER_HOST URL, or kubernetes://context/namespace. */
  where: string;
  /** Short facts, in the order shown: "API 1.41", "btrfs", "2 CPUs", "7.8 GiB"... */
  facts: string[];
}

export interface DashboardOverview {
  /** The engine's address, as before; `engineInfo` says what kind it is. */
  engine: string;
  engineInfo: EngineDescription;
  apps: string[];
  pools: PoolStatus[];
  sandboxes: DashboardSandbox[];
  /** When the engine was read for this (ms since the epoch). */
  readAtMs: number;
  /** Counts what was pushed: an action's answer names the version that shows its result. */
  version: number;
}

/** One sample of a sandbox's use: [ms since the epoch, CPU % of one core, memory bytes]. */
export type UsagePoint = [number, number, number];

/** The engine as the header names it, from its address and what `info` answered (undefined until it has). */
export function describeEngine(host: string, info: EngineInfo | undefined): EngineDescription {
  const kind = (info?.kind ?? (host.startsWith("kubernetes://") ? "kubernetes" : "docker")) === "kubernetes";
  if (!info) return { kind: kind ? "Kubernetes" : "Docker", where: host, facts: [] };
  const gib = info.memoryBytes / 1024 ** 3;
  const facts = [
    info.apiVersion && (kind ? info.apiVersion : `API ${info.apiVersion}`),
    info.storageDriver && `${info.storageDriver}${info.backingFilesystem ? ` on ${info.backingFilesystem}` : ""}`,
    info.cpus > 0 ? `${String(info.cpus)} CPU${info.cpus === 1 ? "" : "s"}` : "",
    info.memoryBytes > 0 ? `${gib.toFixed(1)} GiB` : "",
    info.os && info.architecture ? `${info.os}/${info.architecture}` : info.os || info.architecture,
  ].filter((f): f is string => Boolean(f));
  return { kind: kind ? "Kubernetes" : "Docker", where: host, facts };
}

/** A pool member's place, as the dashboard names it (a warm member is "ready"). */
export function memberPlace(c: ContainerSummary): DashboardSandbox["member"] {
  const pool = c.labels[LABEL.pool];
  if (pool === undefined) return undefined;
  const state = parseMember(c.labels[LABEL.app] ?? "", pool, c)?.state;
  return state === "warm" ? "ready" : state;
}

/**
 * When a sandbox's lifetime ends, as `sandfleet agent` counts it: a deadline
 * set on the live sandbox wins; else its timeout from its start, or, for a
 * pool's member, from its claim (a warm member has none yet).
 */
export function deadlineOf(
  c: ContainerSummary,
  startedMs: number | undefined,
  setDeadlineMs: number | undefined,
  claimedMs: number | undefined,
): number | undefined {
  if (setDeadlineMs !== undefined && Number.isFinite(setDeadlineMs)) return setDeadlineMs;
  const timeoutMs = Number(c.labels[LABEL.timeoutMs] ?? 0);
  if (!(timeoutMs > 0)) return undefined;
  if (c.labels[LABEL.pool] !== undefined)
    return memberPlace(c) === "claimed" && claimedMs !== undefined ? claimedMs + timeoutMs : undefined;
  return startedMs === undefined ? undefined : startedMs + timeoutMs;
}

/** Each recorded pool's numbers, counted from one listing of the sandboxes (no listing per pool). */
export function poolStatuses(
  pools: readonly { app: string; name: string; replicas: number }[],
  listing: readonly ContainerSummary[],
): PoolStatus[] {
  return pools.map((p) => {
    const members = listing.flatMap((c) => {
      if (c.labels[LABEL.app] !== p.app || c.labels[LABEL.pool] !== p.name) return [];
      const member = parseMember(p.app, p.name, c);
      return member ? [member] : [];
    });
    return {
      app: p.app,
      name: p.name,
      replicas: p.replicas,
      ready: members.filter((m) => m.state === "warm" && m.running).length,
      pending: members.filter((m) => m.state === "pending").length,
      claimed: members.filter((m) => m.state === "claimed").length,
      paused: members.filter((m) => m.paused).length,
    };
  });
}
