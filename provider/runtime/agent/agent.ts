import type { Engine } from "../../engines/port.ts";
import { ActivityRecord, type ExecActivity } from "./activity-record.ts";
import { newestRecords } from "../engine-state/sandbox-records.ts";
import { expireSnapshots } from "../sandboxes/snapshot.ts";
import type { ContainerInfo } from "../../engines/port.ts";
import { idleBySupervisor, isSupervised, pausesWhenIdle, wakeOnTunnelTraffic } from "./idle-pause.ts";
import { pauseSandbox } from "../sandboxes/pause.ts";
import { pruneConnectTokens } from "../sandboxes/connect-tokens.ts";
import { syncEgress } from "../networks/egress.ts";
import { hasOpenTunnelConnection, hasRunningExec, lastExecActivity } from "./idle.ts";
import { LABEL, scopeLabels } from "../engine-state/labels.ts";
import { endReasonOf, endSandbox, type EndReason } from "../sandboxes/lifetime.ts";
import { claimTimes, parseMember, writeClaimRecord, type PoolMember } from "../pools/pool.ts";
import { healthCheckCommandLine } from "../engine-state/readiness.ts";
import { InvalidArgumentError } from "../../errors.ts";
import { durationProblem, MAX_DURATION_MS } from "../../rules.ts";

/** Time between the agent's passes, in ms. */
const AGENT_INTERVAL_MS = { min: 10, max: 60 * 60 * 1000 } as const;
import { systemClock, type Clock } from "../local/poll.ts";
import { watchEvents, type SandboxEvent } from "../observability/events.ts";
import { engineEndReason, eventKey } from "../engine-state/event-kinds.ts";
import type { AgentMetrics } from "../observability/metrics.ts";
import type { AgentEvent, Reconciler } from "../observability/agent-event.ts";

/**
 * Takes every sandbox event for good before the watch moves on (webhook
 * deliveries kept on disk): opened when `run` starts, closed when it ends.
 */
export interface EventSink {
  /** Where the event stream resumes (the last event taken before a restart), and the events taken at that moment. */
  open(): { sinceMs?: number; seen: readonly string[] };
  /** Resolves once the event is kept; the watch waits for it. */
  take(event: SandboxEvent): Promise<void>;
  close(): Promise<void>;
}

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
  /** Told every sandbox event while `run` runs. */
  observers?: ((event: SandboxEvent) => void)[];
  /** Takes every sandbox event while `run` runs, before the watch moves on: webhook deliveries. */
  eventSink?: EventSink;
  /** Prometheus metrics to keep; `agent.metrics.registry` is what a scrape reads. */
  metrics?: AgentMetrics;
}

/**
 * The reconciler behind `sandfleet agent`. What it decides holds no state of
 * its own (its metrics and the execs its passes saw live in memory; webhook
 * deliveries waiting and the event stream's position are its event sink's,
 * kept on disk): each
 * pass reads the facts from the engine (labels with the limits, start
 * times, exec events, names that record why a sandbox was ended), so a
 * restarted agent, or one that outlived an engine restart, does the same.
 */
export class Agent {
  readonly #params: Required<Omit<AgentParams, "onEvent" | "app" | "metrics" | "eventSink">> &
    Pick<AgentParams, "onEvent" | "app" | "eventSink">;
  readonly metrics: AgentMetrics | undefined;
  readonly #recentEvents = new Set<string>();
  readonly #startedMs: number;
  readonly #seen = new ActivityRecord();
  /** Whether the engine keeps snapshots, asked once. */
  #snapshots: Promise<boolean> | undefined;

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
    await step("lifetimes", () => enforceLifetimes(docker, now, this.#startedMs, app, this.#seen));
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
    await step("snapshots", async () => {
      // An engine without snapshots has none to expire (and an agent inside a cluster no Docker engine to ask).
      this.#snapshots ??= docker.info().then((info) => info.capabilities.snapshots.supported);
      this.#snapshots.catch(() => (this.#snapshots = undefined));
      if (!(await this.#snapshots)) return [];
      return (await expireSnapshots(docker, now, app ? { app } : {})).map((snapshot) => ({
        action: "expired" as const,
        detail: snapshot,
      }));
    });
    for (const reconcile of reconcilers) await step("reconciler", () => reconcile(docker, now));
    for (const event of events) this.#params.onEvent?.(event);
    return events;
  }

  /** Passes until the signal aborts; an engine that went away is retried, not fatal. */
  async run(signal: AbortSignal): Promise<void> {
    const sink = this.#params.eventSink;
    // A sink that cannot open (its lock is another agent's) stops the agent before it does anything.
    const resume = sink?.open();
    try {
      const watching = this.#params.observers.length > 0 || sink ? this.#watch(signal, resume) : Promise.resolve();
      await this.#pass(signal);
      await watching;
    } finally {
      await sink?.close();
    }
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
  async #watch(signal: AbortSignal, resume: { sinceMs?: number; seen: readonly string[] } | undefined): Promise<void> {
    const { docker, app, observers, eventSink } = this.#params;
    // From where the sink took its last event before a restart, else from this agent's start, not
    // from whenever the engine's stream opens: an event of the moment in between (a sandbox made
    // right after the agent started, or while it restarted) is told, not lost.
    let sinceMs: number | undefined = resume?.sinceMs ?? this.#params.clock.now();
    // The engine replays from a whole second: what came before the resume point was taken already.
    const floorMs = resume?.sinceMs ?? 0;
    for (const key of resume?.seen ?? []) this.#recentEvents.add(key);
    const stopped = () => signal.aborted;
    while (!stopped()) {
      try {
        for await (const event of watchEvents(docker, {
          ...(app ? { app } : {}),
          signal,
          ...(sinceMs ? { sinceMs } : {}),
        })) {
          const timeMs = Date.parse(event.time);
          const key = eventKey(event);
          if (timeMs < floorMs || this.#recentEvents.has(key)) continue;
          // Kept before it counts as taken: if this fails, the stream reopens from the last one taken.
          await eventSink?.take(event);
          sinceMs = timeMs;
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
  /** What this agent's earlier passes saw of exec activity (a pass alone may find it pushed out of the engine's buffer). */
  seen: ActivityRecord = new ActivityRecord(),
): Promise<AgentEvent[]> {
  const running = await docker.containers.list(scopeLabels("sandbox", app));
  const containers = (
    await Promise.all(running.filter((c) => c.status === "running").map((c) => docker.containers.inspect(c.id)))
  ).filter((c): c is ContainerInfo => c !== undefined && c.running);
  if (containers.length === 0) return [];

  const needsIdle = containers.some((c) => c.labels[LABEL.idleTimeoutMs]);
  const activity: ExecActivity = needsIdle
    ? seen.add(
        await lastExecActivity(
          docker,
          nowMs - MAX_DURATION_MS,
          nowMs,
          new Map(containers.flatMap((c) => (c.healthcheck ? [[c.id, healthCheckCommandLine(c.healthcheck)]] : []))),
        ),
        nowMs,
        agentStartedMs,
      )
    : { byContainer: new Map<string, number>(), complete: true, heldSinceMs: undefined };

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
  activity: ExecActivity,
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
  // Without a complete record, count from where the unbroken record begins at the earliest (any exec the
  // engine dropped came before), or where it cannot tell, from when this agent started: never end early.
  const unrecorded = activity.complete ? startedMs : (activity.heldSinceMs ?? agentStartedMs);
  const since = Math.max(startedMs, lastExec ?? 0, unrecorded);
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
