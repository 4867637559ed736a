import type { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Engine } from "../../engines/port.ts";
import type { ContainerStats, ContainerSummary } from "../../engines/port.ts";
import type { AgentEvent } from "./agent-event.ts";
import type { SandboxEvent } from "./events.ts";
import { LABEL, scopeLabels } from "../engine-state/labels.ts";
import { isClaimable, listMembers, parseMember, recordedPools } from "../pools/pool.ts";
import { healthCheckCommandLine } from "../engine-state/readiness.ts";
import { supervisorActivity } from "../supervisor/activity.ts";
import type { DeliveryMetrics, DropReason, ReceiverLabels } from "./webhook-delivery.ts";

type Labels<K extends string> = Partial<Record<K, string>>;
type PromClient = typeof import("prom-client");

/**
 * What `sandfleet agent --metrics-addr` serves to Prometheus: per-pool
 * ready, claimed and paused counts against replicas, claim latency, exec
 * counts, ends by reason, and each sandbox's use of CPU, memory, processes,
 * network and disk, and webhook deliveries (waiting, delivered, retried,
 * dropped). Gauges are read from the engine when scraped, except the webhook
 * ones, which the delivery sets; counters count what this agent saw since it started.
 */
export class AgentMetrics implements DeliveryMetrics {
  readonly registry: Registry;
  readonly #docker: Engine;
  readonly #app: string | undefined;
  readonly #startedMs = Date.now();
  readonly #seenClaims = new Set<string>();
  readonly #execsSeen = new Map<string, number>();
  #engineExecsUntilMs = Date.now();
  #taken: { atMs: number; snapshot: Promise<EngineSnapshot> } | undefined;
  readonly #claims: Counter<"app" | "pool">;
  readonly #claimLatency: Histogram<"app" | "pool">;
  readonly #execs: Counter<"app">;
  readonly #ended: Counter<"app" | "reason">;
  readonly #hooksWaiting: Gauge<"app" | "receiver">;
  readonly #hooksWaitingBytes: Gauge<"app" | "receiver">;
  readonly #hooksDelivered: Counter<"app" | "receiver">;
  readonly #hooksRetried: Counter<"app" | "receiver">;
  readonly #hooksDropped: Counter<"app" | "receiver" | "reason">;

  /** Loads the Prometheus client only when metrics are wanted: most runs of the CLI never need it. */
  static async create(docker: Engine, app?: string): Promise<AgentMetrics> {
    return new AgentMetrics(await import("prom-client"), docker, app);
  }

  readonly #prom: PromClient;

  private constructor(prom: PromClient, docker: Engine, app?: string) {
    this.#prom = prom;
    this.registry = new prom.Registry();
    const { Counter, Histogram } = prom;
    this.#docker = docker;
    this.#app = app;
    const registers = [this.registry];
    this.#claims = new Counter({
      name: "sandfleet_claims_total",
      help: "Pool members claimed",
      labelNames: ["app", "pool"],
      registers,
    });
    this.#claimLatency = new Histogram({
      name: "sandfleet_claim_latency_seconds",
      help: "How long a claimer waited for its pool member",
      labelNames: ["app", "pool"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.#execs = new Counter({
      name: "sandfleet_execs_total",
      help: "Commands started in sandboxes",
      labelNames: ["app"],
      registers,
    });
    this.#ended = new Counter({
      name: "sandfleet_sandboxes_ended_total",
      help: "Sandboxes that ended, by reason: timeout, idle, oom, exit, terminated, node-lost, evicted: <resource>",
      labelNames: ["app", "reason"],
      registers,
    });
    const { Gauge } = prom;
    this.#hooksWaiting = new Gauge({
      name: "sandfleet_webhook_deliveries_waiting",
      help: "Webhook deliveries kept on disk for a receiver, not yet delivered",
      labelNames: ["app", "receiver"],
      registers,
    });
    this.#hooksWaitingBytes = new Gauge({
      name: "sandfleet_webhook_deliveries_waiting_bytes",
      help: "Bytes on disk of the webhook deliveries waiting for a receiver",
      labelNames: ["app", "receiver"],
      registers,
    });
    this.#hooksDelivered = new Counter({
      name: "sandfleet_webhook_deliveries_delivered_total",
      help: "Webhook deliveries a receiver answered with a 2xx",
      labelNames: ["app", "receiver"],
      registers,
    });
    this.#hooksRetried = new Counter({
      name: "sandfleet_webhook_deliveries_retried_total",
      help: "Webhook attempts that failed and will be made again (network error, 5xx, 408, 429, 3xx)",
      labelNames: ["app", "receiver"],
      registers,
    });
    this.#hooksDropped = new Counter({
      name: "sandfleet_webhook_deliveries_dropped_total",
      help: "Webhook deliveries given up, by reason: refused, expired, overflow, removed, unreadable",
      labelNames: ["app", "receiver", "reason"],
      registers,
    });
    this.#gauges(registers);
  }

  webhookWaiting(labels: ReceiverLabels, count: number, bytes: number): void {
    this.#hooksWaiting.set({ ...labels }, count);
    this.#hooksWaitingBytes.set({ ...labels }, bytes);
  }

  webhookDelivered(labels: ReceiverLabels): void {
    this.#hooksDelivered.inc({ ...labels });
  }

  webhookRetried(labels: ReceiverLabels): void {
    this.#hooksRetried.inc({ ...labels });
  }

  webhookDropped(labels: ReceiverLabels, reason: DropReason, count: number): void {
    this.#hooksDropped.inc({ ...labels, reason }, count);
  }

  /** Counts an end the agent's event watch saw. */
  observe(event: SandboxEvent): void {
    if (event.kind === "ended" && event.reason) this.#ended.inc({ app: event.app, reason: event.reason });
  }

  /** One agent pass: new claims and new execs, before the claim records of ended members are pruned. */
  async reconcile(docker: Engine): Promise<AgentEvent[]> {
    await Promise.all([this.#countClaims(docker), this.#countExecs(docker)]);
    return [];
  }

  async #countClaims(docker: Engine): Promise<void> {
    for (const record of await docker.records.list(scopeLabels("claim", this.#app))) {
      const claimedAt = Number(record.labels[LABEL.claimedAt] ?? 0);
      if (this.#seenClaims.has(record.name) || claimedAt < this.#startedMs) continue;
      this.#seenClaims.add(record.name);
      const labels = { app: record.labels[LABEL.app] ?? "", pool: record.labels[LABEL.pool] ?? "" };
      this.#claims.inc(labels);
      const latencyMs = Number(record.labels[LABEL.claimLatencyMs]);
      if (Number.isFinite(latencyMs)) this.#claimLatency.observe(labels, latencyMs / 1000);
    }
  }

  /** Commands: each supervisor's own count, and the engine's execs in sandboxes without one. */
  async #countExecs(docker: Engine): Promise<void> {
    const running = (await docker.containers.list(scopeLabels("sandbox", this.#app))).filter(
      (c) => c.status === "running",
    );
    const supervised = running.filter((c) => c.labels[LABEL.supervisor] !== undefined && isArmed(c));
    await Promise.all(
      supervised.map(async (c) => {
        const execs = await supervisorActivity(docker, c.id).then(
          (a) => a.execs,
          () => undefined, // ended meanwhile
        );
        if (execs === undefined) return;
        const delta = execs - (this.#execsSeen.get(c.id) ?? 0);
        this.#execsSeen.set(c.id, execs);
        if (delta > 0) this.#execs.inc({ app: c.labels[LABEL.app] ?? "" }, delta);
      }),
    );
    const untilMs = Date.now();
    const engineExecs = await docker.events.containerEvents({
      sinceMs: this.#engineExecsUntilMs,
      untilMs,
      actions: ["exec_start"],
      labels: scopeLabels("sandbox", this.#app),
    });
    this.#engineExecsUntilMs = untilMs;
    if (engineExecs.length === 0) return;
    const unsupervised = await Promise.all(
      running.filter((c) => c.labels[LABEL.supervisor] === undefined).map((c) => docker.containers.inspect(c.id)),
    );
    const byId = new Map(unsupervised.flatMap((c) => (c ? [[c.id, c] as const] : [])));
    for (const event of engineExecs) {
      const container = byId.get(event.containerId);
      // The engine's health checks are execs too, but no one's commands.
      const healthCheck = container?.healthcheck ? healthCheckCommandLine(container.healthcheck) : undefined;
      if (container && event.detail !== healthCheck) this.#execs.inc({ app: container.labels[LABEL.app] ?? "" });
    }
  }

  /**
   * What one scrape reads from the engine, shared by every gauge of that
   * scrape (the registry asks each gauge on its own).
   */
  #snapshot(): Promise<EngineSnapshot> {
    const now = Date.now();
    if (this.#taken && now - this.#taken.atMs < SNAPSHOT_REUSE_MS) return this.#taken.snapshot;
    const snapshot = takeSnapshot(this.#docker, this.#app);
    this.#taken = { atMs: now, snapshot };
    snapshot.catch(() => {
      this.#taken = undefined;
    });
    return snapshot;
  }

  #gauges(registers: Registry[]): void {
    const { Gauge } = this.#prom;
    const snapshot = () => this.#snapshot();
    /** A gauge whose samples are read from the scrape's snapshot. */
    const gauge = <K extends string>(
      name: string,
      help: string,
      labelNames: K[],
      samples: (s: EngineSnapshot) => [Labels<K>, number][],
    ) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        async collect() {
          const taken = await snapshot();
          this.reset();
          for (const [labels, value] of samples(taken)) this.set(labels, value);
        },
      });

    gauge("sandfleet_pool_replicas", "Ready members a pool keeps", ["app", "pool"], (s) =>
      s.pools.map((p) => [{ app: p.app, pool: p.pool }, p.replicas]),
    );
    gauge(
      "sandfleet_pool_members",
      "A pool's members by state: pending, ready, claimed, paused",
      ["app", "pool", "state"],
      (s) =>
        s.pools.flatMap((p) =>
          Object.entries(p.members).map(([state, count]): [Labels<"app" | "pool" | "state">, number] => [
            { app: p.app, pool: p.pool, state },
            count,
          ]),
        ),
    );
    gauge("sandfleet_sandboxes", "Sandboxes by status: running, paused, exited", ["app", "status"], (s) =>
      s.statusCounts.map(({ count, ...labels }) => [labels, count]),
    );
    const perSandbox = (name: string, help: string, value: (stats: ContainerStats) => number) =>
      gauge(name, help, ["app", "sandbox", "id"], (s) => s.stats.map(({ labels, stats }) => [labels, value(stats)]));
    perSandbox("sandfleet_sandbox_cpu_seconds", "CPU time a sandbox used since it started", (t) => t.cpuNs / 1e9);
    perSandbox("sandfleet_sandbox_memory_bytes", "Memory a sandbox uses now", (t) => t.memoryBytes);
    perSandbox("sandfleet_sandbox_memory_limit_bytes", "Memory a sandbox may use", (t) => t.memoryLimitBytes);
    perSandbox("sandfleet_sandbox_pids", "Processes in a sandbox now", (t) => t.pids);
    perSandbox("sandfleet_sandbox_network_receive_bytes", "Bytes a sandbox received", (t) => t.networkRxBytes);
    perSandbox("sandfleet_sandbox_network_transmit_bytes", "Bytes a sandbox sent", (t) => t.networkTxBytes);
    perSandbox("sandfleet_sandbox_disk_bytes", "Bytes a sandbox wrote to its own filesystem", (t) => t.diskBytes);
  }
}

/** A scrape's snapshot is reused by the gauges of that scrape, and no later one. */
const SNAPSHOT_REUSE_MS = 500;

interface EngineSnapshot {
  pools: { app: string; pool: string; replicas: number; members: Record<string, number> }[];
  statusCounts: { app: string; status: string; count: number }[];
  stats: { labels: Labels<"app" | "sandbox" | "id">; stats: ContainerStats }[];
}

async function takeSnapshot(docker: Engine, app: string | undefined): Promise<EngineSnapshot> {
  const pools = await Promise.all(
    (await recordedPools(docker))
      .filter((p) => !app || p.app === app)
      .map(async (pool) => {
        const members = { pending: 0, ready: 0, claimed: 0, paused: 0 };
        for (const member of await listMembers(docker, pool.app, pool.name)) {
          if (member.paused) members.paused++;
          // A warm member the engine finds wrong (its node lost, not Ready) is not ready: it cannot be claimed.
          else if (member.state === "warm") members.ready += isClaimable(member) ? 1 : 0;
          else if (member.running) members[member.state]++;
        }
        return { app: pool.app, pool: pool.name, replicas: pool.replicas, members };
      }),
  );
  const all = await docker.containers.list(scopeLabels("sandbox", app));
  const counts = new Map<string, { app: string; status: string; count: number }>();
  for (const c of all) {
    const key = `${c.labels[LABEL.app] ?? ""}/${c.status}`;
    const entry = counts.get(key) ?? { app: c.labels[LABEL.app] ?? "", status: c.status, count: 0 };
    entry.count++;
    counts.set(key, entry);
  }
  const live = all.filter((c) => c.status === "running" || c.status === "paused");
  const stats = await Promise.all(live.map((c) => docker.containers.stats(c.id).catch(() => undefined)));
  return {
    pools,
    statusCounts: [...counts.values()],
    stats: live.flatMap((c, i) => {
      const s = stats[i];
      const labels = { app: c.labels[LABEL.app] ?? "", sandbox: c.labels[LABEL.name] ?? c.name, id: c.id.slice(0, 12) };
      return s ? [{ labels, stats: s }] : [];
    }),
  };
}

/** A warm pool member's supervisor has not started its lifetime; asking it is still fine, but it ran nothing. */
function isArmed(c: ContainerSummary): boolean {
  const pool = c.labels[LABEL.pool];
  if (pool === undefined) return true;
  return parseMember(c.labels[LABEL.app] ?? "", pool, c)?.state === "claimed";
}
