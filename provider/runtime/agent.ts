import type { Engine } from "../engines/port.ts";
import { newestRecords } from "./sandbox-records.ts";
import { expireSnapshots } from "./snapshot.ts";
import type { ContainerInfo } from "../engines/port.ts";
import { idleBySupervisor, isSupervised, pausesWhenIdle, wakeOnTunnelTraffic } from "./idle-pause.ts";
import { pauseSandbox } from "./pause.ts";
import { pruneConnectTokens } from "./connect-tokens.ts";
import { syncEgress } from "./egress.ts";
import { hasOpenTunnelConnection, hasRunningExec, lastExecActivity } from "./idle.ts";
import { LABEL, scopeLabels } from "./labels.ts";
import { endReasonOf, endSandbox, type EndReason } from "./lifetime.ts";
import { claimTimes, parseMember, writeClaimRecord, type PoolMember } from "./pool.ts";
import { healthCheckCommandLine } from "./readiness.ts";
import { InvalidArgumentError } from "../errors.ts";
import { durationProblem, MAX_DURATION_MS } from "../rules.ts";

/** Time between the agent's passes, in ms. */
const AGENT_INTERVAL_MS = { min: 10, max: 60 * 60 * 1000 } as const;
import { systemClock, type Clock } from "./poll.ts";
import { watchEvents, type SandboxEvent } from "./events.ts";
import { engineEndReason, type EngineEndReason } from "./event-kinds.ts";
import type { AgentMetrics } from "./metrics.ts";

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

export interface AgentParams {
  docker: Engine;
  /** Only this app's sandboxes and pools; default every app on the engine. */
  app?: string;
  /** Time between passes. Default 1000. */
  intervalMs?: number;
  clock?: Clock;
  /** Further reconcilers, e.g. warm-pool refills. */
  reconcilers?: Reconciler[];
  onEvent?: (event: AgentEvent) => void;
  /** Told every sandbox event while `run` runs: webhooks. */
  observers?: ((event: SandboxEvent) => void)[];
  /** Prometheus metrics to keep; `agent.metrics.registry` is what a scrape reads. */
  metrics?: AgentMetrics;
}

/**
 * The reconciler behind `sandfleet agent`. What it decides holds no state of
 * its own (only its metrics and webhook deliveries live in memory): each
 * pass reads the facts from the engine (labels with the limits, start
 * times, exec events, names that record why a sandbox was ended), so a
 * restarted agent, or one that outlived an engine restart, does the same.
 */
export class Agent {
  readonly #params: Required<Omit<AgentParams, "onEvent" | "app" | "metrics">> & Pick<AgentParams, "onEvent" | "app">;
  readonly metrics: AgentMetrics | undefined;
  readonly #recentEvents = new Set<string>();
  readonly #startedMs: number;

  constructor(params: AgentParams) {
    const { metrics, ...rest } = params;
    this.metrics = metrics;
    this.#params = { intervalMs: 1000, clock: systemClock, ...rest, reconcilers: [], observers: [] };
    // A pass every 0 ms would spin; one a day apart would let lifetimes overrun.
    const badInterval = durationProblem(this.#params.intervalMs, AGENT_INTERVAL_MS);
    if (badInterval) throw new InvalidArgumentError(`agent intervalMs ${badInterval}`);
    // Claims are counted before the pool refills prune the records of ended members.
    if (metrics) {
      this.#params.reconcilers.push((docker) => metrics.reconcile(docker));
      this.#params.observers.push((event) => {
        metrics.observe(event);
      });
    }
    this.#params.reconcilers.push(...(params.reconcilers ?? []));
    this.#params.observers.push(...(params.observers ?? []));
    this.#startedMs = this.#params.clock.now();
  }

  /** One pass over every sandbox and pool; returns what it did. */
  async reconcileOnce(): Promise<AgentEvent[]> {
    const { docker, clock, reconcilers } = this.#params;
    const now = clock.now();
    const app = this.#params.app;
    const events: AgentEvent[] = [];
    // Each part runs whatever another one threw: one bad record of one app never stops the pass for the rest.
    const step = async (what: string, run: () => Promise<AgentEvent[]>) => {
      try {
        events.push(...(await run()));
      } catch (error) {
        events.push({ action: "error", detail: `${what}: ${error instanceof Error ? error.message : String(error)}` });
      }
    };
    await step("wake on tunnel traffic", () => wakeOnTunnelTraffic(docker, app));
    await step("lifetimes", () => enforceLifetimes(docker, now, this.#startedMs, app));
    await step("connect tokens", async () => {
      await pruneConnectTokens(docker, now, app);
      return [];
    });
    // The egress daemon holds every app's policies, so this agent gives it the whole engine's
    // (an agent of one app, only when that app uses egress). A list it cannot take is reported, and
    // its sandbox reaches nothing until it is fixed; every other list is still synced.
    await step("egress", async () =>
      (await syncEgress(docker, app)).map(({ app: owner, sandbox, problem }) => ({
        action: "error" as const,
        sandbox,
        detail: `egress: app "${owner}" sandbox "${sandbox}": ${problem}; it reaches nothing until its list is fixed`,
      })),
    );
    await step("snapshots", async () =>
      (await expireSnapshots(docker, now, app ? { app } : {})).map((snapshot) => ({
        action: "expired" as const,
        detail: snapshot,
      })),
    );
    for (const reconcile of reconcilers) await step("reconciler", () => reconcile(docker, now));
    for (const event of events) this.#params.onEvent?.(event);
    return events;
  }

  /** Passes until the signal aborts; an engine that went away is retried, not fatal. */
  async run(signal: AbortSignal): Promise<void> {
    const watching = this.#params.observers.length > 0 ? this.#watch(signal) : Promise.resolve();
    await this.#pass(signal);
    await watching;
  }

  async #pass(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.reconcileOnce();
      } catch (error) {
        this.#params.onEvent?.({ action: "error", detail: error instanceof Error ? error.message : String(error) });
      }
      await Promise.race([
        this.#params.clock.sleep(this.#params.intervalMs),
        new Promise((resolve) => {
          signal.addEventListener("abort", resolve, { once: true });
        }),
      ]);
    }
  }

  /**
   * Tells the observers each sandbox event. A lost stream (an engine
   * restart) is opened again from the last event told, and what the engine
   * replays twice is told once.
   */
  async #watch(signal: AbortSignal): Promise<void> {
    const { docker, app, observers } = this.#params;
    // From this agent's start, not from whenever the engine's stream opens: an event of the
    // moment in between (a sandbox made right after the agent started) is told, not lost.
    let sinceMs: number | undefined = this.#params.clock.now();
    const stopped = () => signal.aborted;
    while (!stopped()) {
      try {
        for await (const event of watchEvents(docker, {
          ...(app ? { app } : {}),
          signal,
          ...(sinceMs ? { sinceMs } : {}),
        })) {
          sinceMs = Date.parse(event.time);
          const key = `${event.id} ${event.kind} ${event.time}`;
          if (this.#recentEvents.has(key)) continue;
          this.#recentEvents.add(key);
          if (this.#recentEvents.size > 10_000) this.#recentEvents.clear();
          for (const observe of observers) observe(event);
          // An end the engine caused (a lost node, an eviction) is the agent's news too: said in its log.
          const byEngine = event.kind === "ended" ? engineEndReason(event.reason) : undefined;
          if (byEngine) {
            this.#params.onEvent?.({
              action: "ended",
              sandbox: `${event.app}/${event.sandbox}`,
              reason: byEngine,
              ...(event.detail ? { detail: event.detail } : {}),
            });
          }
        }
      } catch (error) {
        if (stopped()) return;
        this.#params.onEvent?.({
          action: "error",
          detail: `event watch: ${error instanceof Error ? error.message : String(error)}`,
        });
        await this.#params.clock.sleep(1000);
      }
    }
  }
}

/**
 * Ends sandboxes past their timeout or idle timeout (or pauses those whose
 * idle action is pause), and finishes ends a crash interrupted.
 */
export async function enforceLifetimes(
  docker: Engine,
  nowMs: number,
  agentStartedMs: number,
  app?: string,
): Promise<AgentEvent[]> {
  const running = await docker.containers.list(scopeLabels("sandbox", app));
  const containers = (
    await Promise.all(running.filter((c) => c.status === "running").map((c) => docker.containers.inspect(c.id)))
  ).filter((c): c is ContainerInfo => c !== undefined && c.running);
  if (containers.length === 0) return [];

  const needsIdle = containers.some((c) => c.labels[LABEL.idleTimeoutMs]);
  const activity = needsIdle
    ? await lastExecActivity(
        docker,
        nowMs - MAX_DURATION_MS,
        nowMs,
        new Map(containers.flatMap((c) => (c.healthcheck ? [[c.id, healthCheckCommandLine(c.healthcheck)]] : []))),
      )
    : { byContainer: new Map<string, number>(), complete: true };

  const claims = containers.some((c) => c.labels[LABEL.pool] !== undefined)
    ? await claimTimes(docker)
    : new Map<string, number>();
  await recordUnrecordedClaims(docker, containers, claims, nowMs);
  const deadlines = new Map(
    [...(await newestRecords(docker, "deadline", app))].map(([id, r]) => [id, Number(r.labels[LABEL.deadline])]),
  );
  const events: AgentEvent[] = [];
  for (const container of containers) {
    const reason = await dueReason(
      docker,
      container,
      nowMs,
      agentStartedMs,
      activity,
      claims,
      deadlines.get(container.id),
    );
    if (!reason) continue;
    if (reason === "idle" && pausesWhenIdle(container)) {
      if (await pauseSandbox(docker, container.id, container.name))
        events.push({ action: "paused", sandbox: container.name, reason });
      continue;
    }
    await endSandbox(docker, container, reason);
    events.push({ action: "ended", sandbox: container.name, reason });
  }
  return events;
}

async function dueReason(
  docker: Engine,
  container: ContainerInfo,
  nowMs: number,
  agentStartedMs: number,
  activity: { byContainer: Map<string, number>; complete: boolean },
  claims: Map<string, number>,
  /** A deadline set on the live sandbox, which replaces the one its timeout gives. */
  deadlineMs: number | undefined,
): Promise<EndReason | undefined> {
  // Renamed but still running: an earlier pass was cut off between the two steps.
  const recorded = endReasonOf(container.name);
  if (recorded) return recorded;

  let startedMs = Date.parse(container.startedAt);
  const pool = container.labels[LABEL.pool];
  if (pool !== undefined) {
    // A pool member's lifetime starts when it is claimed; until then it waits, warm.
    const member = memberOf(container);
    if (!member || member.state !== "claimed") return undefined;
    startedMs = claims.get(member.memberId) ?? agentStartedMs;
  }
  const timeoutMs = Number(container.labels[LABEL.timeoutMs] ?? 0);
  if (deadlineMs !== undefined ? nowMs >= deadlineMs : timeoutMs > 0 && nowMs >= startedMs + timeoutMs)
    return "timeout";

  const idleTimeoutMs = Number(container.labels[LABEL.idleTimeoutMs] ?? 0);
  if (idleTimeoutMs <= 0) return undefined;
  // A supervisor that pauses when idle reports its idleness rather than acting on it.
  if (pausesWhenIdle(container) && isSupervised(container))
    return (await idleBySupervisor(docker, container)) ? "idle" : undefined;
  if (hasOpenTunnelConnection(container) || (await hasRunningExec(docker, container))) return undefined;
  const lastExec = activity.byContainer.get(container.id);
  // Without a complete record, count from when this agent started: never end a sandbox early.
  const since = Math.max(startedMs, lastExec ?? (activity.complete ? startedMs : agentStartedMs));
  return nowMs - since >= idleTimeoutMs ? "idle" : undefined;
}

/**
 * A claimer writes its claim record after it has its sandbox; one that died
 * first left a claimed member without one. Its lifetime then counts from now,
 * and the record makes every later pass, and the claim metrics, agree.
 */
async function recordUnrecordedClaims(
  docker: Engine,
  containers: readonly ContainerInfo[],
  claims: Map<string, number>,
  nowMs: number,
): Promise<void> {
  for (const container of containers) {
    const member = memberOf(container);
    if (member?.state !== "claimed" || claims.has(member.memberId)) continue;
    await writeClaimRecord(docker, member.app, member.pool, member.memberId, nowMs);
    claims.set(member.memberId, nowMs);
  }
}

/** The pool member a container is, with its app and pool, or undefined when it is none. */
function memberOf(container: ContainerInfo): (PoolMember & { app: string; pool: string }) | undefined {
  const app = container.labels[LABEL.app] ?? "";
  const pool = container.labels[LABEL.pool];
  if (pool === undefined) return undefined;
  const member = parseMember(app, pool, {
    id: container.id,
    name: container.name,
    labels: container.labels,
    status: container.status,
    createdMs: Date.parse(container.createdAt),
    ports: container.ports,
  });
  return member && { ...member, app, pool };
}
