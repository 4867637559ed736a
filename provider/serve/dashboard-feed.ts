import type { ContainerSummary, Engine, EngineInfo } from "../engines/port.ts";
import { Limiter } from "../engines/limiter.ts";
import { LABEL, scopeLabels, tagsFromLabels } from "../runtime/engine-state/labels.ts";
import { reportedExitCode } from "../runtime/sandboxes/lifetime.ts";
import { parseMember } from "../runtime/engine-state/pool-members.ts";
import { claimTimes, recordedPools } from "../runtime/pools/pool.ts";
import { newestRecords } from "../runtime/engine-state/sandbox-records.ts";
import { supervisorActivity } from "../runtime/supervisor/activity.ts";
import { liveTags } from "../runtime/sandboxes/tags.ts";
import {
  deadlineOf,
  describeEngine,
  memberPlace,
  poolStatuses,
  type DashboardOverview,
  type DashboardSandbox,
  type UsagePoint,
} from "./dashboard-model.ts";
import { UsageHistory } from "./usage-history.ts";

/** What the engine tells of a container that does not change while it keeps its status: read once per status. */
interface Inspected {
  status: string;
  startedMs: number | undefined;
  exitCode: number | undefined;
  limits: DashboardSandbox["limits"];
}

/** The engine's events that change what the page shows: a read follows each at once. */
const WATCHED_ACTIONS = ["create", "start", "rename", "pause", "unpause", "die", "destroy"];

/**
 * Calls for use in flight at once. Docker (20.10) answers each at its stats
 * collector's next pass, once a second, one-shot or not: measured 1 s a call
 * one at a time, 20 in 1.1 s together. So many wait together, and a sweep
 * of 200 takes four passes, not 200.
 */
const USAGE_CALLS = 50;

/** How a page hears of changes: a named message with its JSON. */
export type FeedListener = (event: "overview" | "history" | "samples", json: string) => void;

export interface FeedTiming {
  /** A state read at least this often, and at once after an engine event or an action. */
  tickMs: number;
  /** One sweep of every live sandbox's CPU and memory at most this often (and never more than half the time). */
  sampleMs: number;
  /** A running sandbox's supervisor asked of its idle time at most this often. */
  activityMs: number;
  /** How much history each sandbox keeps. */
  historyMs: number;
}

export const FEED_TIMING: FeedTiming = { tickMs: 1000, sampleMs: 2000, activityMs: 10_000, historyMs: 10 * 60_000 };

/**
 * What every open page of one dashboard shows, read from the engine once for
 * all of them: one read of the state at a time (never two in flight), each
 * tick and at once after an engine event; a separate sweep of the live
 * sandboxes' use, kept as a bounded history. Pages are pushed what changed.
 */
export class DashboardFeed {
  readonly #engine: Engine;
  readonly #app: string | undefined;
  readonly #timing: FeedTiming;
  readonly #listeners = new Set<FeedListener>();
  readonly #stop = new AbortController();
  readonly #history: UsageHistory;
  readonly #inspected = new Map<string, Inspected>();
  readonly #usage = new Map<string, { cpuNs: number; atMs: number; shown: NonNullable<DashboardSandbox["usage"]> }>();
  readonly #idle = new Map<string, NonNullable<DashboardSandbox["idle"]>>();
  #info: EngineInfo | undefined;
  #listing: ContainerSummary[] = [];
  #overview: DashboardOverview | undefined;
  #overviewJson = "";
  #shownKey = "";
  #version = 0;
  #started = false;
  #readsBegun = 0;
  #readsDone = 0;
  #inFlight = 0;
  /** The most reads ever in flight at once: 1, by construction; kept for the tests. */
  maxInFlight = 0;
  #dirty = false;
  /** Containers an engine event told of since the last read: inspected, as the listing can lag the event. */
  #told = new Set<string>();
  #wake: (() => void) | undefined;
  readonly #waiters: { after: number; resolve: () => void }[] = [];
  #firstRead: Promise<void>;
  #firstReadDone: () => void = () => undefined;
  /** Why the last read failed, for a request made before any read succeeded. */
  #readError: Error | undefined;

  constructor(engine: Engine, app: string | undefined, timing: FeedTiming = FEED_TIMING) {
    this.#engine = engine;
    this.#app = app;
    this.#timing = timing;
    this.#history = new UsageHistory({
      windowMs: timing.historyMs,
      maxPoints: Math.ceil(timing.historyMs / timing.sampleMs) + 1,
    });
    this.#firstRead = new Promise((resolve) => {
      this.#firstReadDone = resolve;
    });
  }

  /** Reads the engine from now until closed; called on first use, so a dashboard nobody opens reads nothing. */
  #start(): void {
    if (this.#started) return;
    this.#started = true;
    void this.#stateLoop();
    void this.#usageLoop();
    void this.#activityLoop();
    void this.#watchLoop();
  }

  /** Hears every change from now on, starting with what is known; returns how to stop. */
  subscribe(listener: FeedListener): () => void {
    this.#start();
    this.#listeners.add(listener);
    if (this.#overview) listener("overview", this.#overviewJson);
    listener("history", JSON.stringify(this.#history.all()));
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** The latest overview, after the first read. */
  async overview(): Promise<DashboardOverview> {
    this.#start();
    await this.#firstRead;
    if (this.#overview) return this.#overview;
    throw this.#readError ?? new Error("the dashboard is closed");
  }

  /**
   * Resolves once a read that began after this call has been pushed: what an
   * action did is then on every page. The container it acted on is inspected
   * in that read, not taken from the listing, which can lag.
   */
  async refresh(actedOn?: string): Promise<void> {
    this.#start();
    if (actedOn !== undefined) this.#told.add(actedOn);
    // The read in flight, if any, may have listed the engine before what the caller did: the next one has not.
    const after = this.#readsBegun;
    const done = new Promise<void>((resolve) => {
      if (this.#readsDone > after) resolve();
      else this.#waiters.push({ after, resolve });
    });
    this.#poke();
    await done;
  }

  close(): void {
    this.#stop.abort();
    this.#wake?.();
    this.#firstReadDone();
    for (const w of this.#waiters.splice(0)) w.resolve();
    this.#listeners.clear();
  }

  #closed(): boolean {
    return this.#stop.signal.aborted;
  }

  #poke(): void {
    this.#dirty = true;
    this.#wake?.();
  }

  /** Waits `ms`, or less when closed (or, with `wakes`, when poked). */
  async #rest(ms: number, wakes: boolean): Promise<void> {
    const signal = this.#stop.signal;
    if (signal.aborted || (wakes && this.#dirty)) return;
    await new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", finish);
        if (this.#wake === finish) this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(finish, ms);
      timer.unref();
      signal.addEventListener("abort", finish, { once: true });
      if (wakes) this.#wake = finish;
    });
  }

  async #stateLoop(): Promise<void> {
    while (!this.#stop.signal.aborted) {
      this.#dirty = false;
      const seq = ++this.#readsBegun;
      this.#inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.#inFlight);
      try {
        await this.#read();
        this.#readError = undefined;
      } catch (error) {
        // The engine did not answer this time: the pages keep what they have, and the next tick tries again.
        this.#readError = error instanceof Error ? error : new Error(String(error));
      } finally {
        this.#inFlight--;
      }
      this.#readsDone = seq;
      this.#firstReadDone();
      for (const w of this.#waiters.filter((w) => w.after < seq)) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve();
      }
      await this.#rest(this.#timing.tickMs, true);
    }
  }

  async #read(): Promise<void> {
    const engine = this.#engine;
    const told = this.#told;
    this.#told = new Set();
    const [listed, pools, deadlines, tags, claims] = await Promise.all([
      engine.containers.list(scopeLabels("sandbox", this.#app)),
      recordedPools(engine),
      newestRecords(engine, "deadline", this.#app),
      liveTags(engine, this.#app),
      claimTimes(engine),
    ]);
    this.#info ??= await engine.info().catch(() => undefined);
    const listing = await this.#asInspected(listed, told);
    await this.#inspectChanged(listing);
    this.#listing = listing;
    const sandboxes = listing.flatMap((c): DashboardSandbox[] => {
      const known = this.#inspected.get(c.id);
      if (!known) return []; // removed between the listing and its inspect
      const setDeadline = deadlines.get(c.id)?.labels[LABEL.deadline];
      const memberId = this.#memberId(c);
      const live = c.status === "running" || c.status === "paused";
      return [
        {
          id: c.id,
          app: c.labels[LABEL.app] ?? "",
          name: c.labels[LABEL.name] ?? c.name,
          pool: c.labels[LABEL.pool],
          member: memberPlace(c),
          status: c.status,
          tags: tags.get(c.id) ?? tagsFromLabels(c.labels),
          createdAt: new Date(c.createdMs).toISOString(),
          startedAt: known.startedMs === undefined ? undefined : new Date(known.startedMs).toISOString(),
          exitCode: known.exitCode,
          deadlineMs: live
            ? deadlineOf(
                c,
                known.startedMs,
                setDeadline === undefined ? undefined : Number(setDeadline),
                memberId === undefined ? undefined : claims.get(memberId),
              )
            : undefined,
          idle: c.status === "running" ? this.#idle.get(c.id) : undefined,
          limits: known.limits,
          usage: live ? this.#usage.get(c.id)?.shown : undefined,
        },
      ];
    });
    const apps = new Set([...pools.map((p) => p.app), ...sandboxes.map((s) => s.app)]);
    this.#publish({
      engine: engine.host,
      engineInfo: describeEngine(engine.host, this.#info),
      apps: [...apps].filter((a) => !this.#app || a === this.#app).sort(),
      pools: poolStatuses(
        pools.filter((p) => !this.#app || p.app === this.#app),
        listing,
      ),
      sandboxes: sandboxes.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id)),
      readAtMs: Date.now(),
    });
  }

  /**
   * The listing, with what an inspect says of the containers an event told
   * of: the engine sends a pause's event before its listing shows it paused
   * (measured: a read at the event still listed it running).
   */
  async #asInspected(listing: ContainerSummary[], told: ReadonlySet<string>): Promise<ContainerSummary[]> {
    return Promise.all(
      listing.map(async (c) => {
        if (!told.has(c.id)) return c;
        const info = await this.#engine.containers.inspect(c.id).catch(() => undefined);
        return info ? { ...c, status: info.status, name: info.name || c.name } : c;
      }),
    );
  }

  #memberId(c: ContainerSummary): string | undefined {
    const pool = c.labels[LABEL.pool];
    return pool === undefined ? undefined : parseMember(c.labels[LABEL.app] ?? "", pool, c)?.memberId;
  }

  /** Inspects the containers that are new or changed status since the last read (their start, limits, exit code). */
  async #inspectChanged(listing: ContainerSummary[]): Promise<void> {
    const present = new Set(listing.map((c) => c.id));
    for (const id of this.#inspected.keys()) if (!present.has(id)) this.#inspected.delete(id);
    const limiter = new Limiter(8);
    await Promise.all(
      listing
        .filter((c) => this.#inspected.get(c.id)?.status !== c.status)
        .map((c) =>
          limiter.run(async () => {
            const info = await this.#engine.containers.inspect(c.id).catch(() => undefined);
            if (!info) return;
            const started = Date.parse(info.startedAt);
            const timeoutMs = Number(c.labels[LABEL.timeoutMs] ?? 0);
            const idleTimeoutMs = Number(c.labels[LABEL.idleTimeoutMs] ?? 0);
            this.#inspected.set(c.id, {
              status: c.status,
              startedMs: Number.isFinite(started) && started > 0 ? started : undefined,
              exitCode: info.status === "exited" || info.status === "dead" ? reportedExitCode(info) : undefined,
              limits: {
                cpu: info.nanoCpus / 1e9,
                memoryBytes: info.memoryBytes,
                pids: info.pidsLimit,
                ...(timeoutMs > 0 ? { timeoutMs } : {}),
                ...(idleTimeoutMs > 0 ? { idleTimeoutMs } : {}),
              },
            });
          }),
        ),
    );
  }

  /** Pushes the overview to every page when it differs from the last one pushed. */
  #publish(read: Omit<DashboardOverview, "version">): void {
    const { readAtMs: _, ...shown } = read;
    const key = JSON.stringify(shown);
    const changed = key !== this.#shownKey;
    if (changed) this.#version++;
    this.#shownKey = key;
    this.#overview = { ...read, version: this.#version };
    this.#overviewJson = JSON.stringify(this.#overview);
    if (changed) for (const listener of this.#listeners) listener("overview", this.#overviewJson);
  }

  /** The version of the overview last pushed. */
  get version(): number {
    return this.#version;
  }

  /** The use of every live sandbox, as often as `sampleMs` allows, a few at a time. */
  async #usageLoop(): Promise<void> {
    await this.#firstRead;
    while (!this.#stop.signal.aborted) {
      const began = Date.now();
      const limiter = new Limiter(USAGE_CALLS);
      let points: Record<string, UsagePoint> = {};
      // A long sweep (many sandboxes, a busy engine) is sent as it goes, each tick, not at its end.
      const flush = () => {
        if (Object.keys(points).length === 0) return;
        const json = JSON.stringify(points);
        points = {};
        for (const listener of this.#listeners) listener("samples", json);
      };
      const flushing = setInterval(flush, this.#timing.tickMs);
      const live = this.#listing.filter((c) => c.status === "running" || c.status === "paused");
      try {
        await Promise.all(
          live.map((c) =>
            limiter.run(async () => {
              const point = await this.#sample(c);
              if (point) points[c.id] = point;
            }),
          ),
        );
      } finally {
        clearInterval(flushing);
      }
      if (this.#closed()) return;
      const ids = new Set(this.#listing.map((c) => c.id));
      this.#history.keepOnly(ids);
      for (const id of this.#usage.keys()) if (!ids.has(id)) this.#usage.delete(id);
      flush();
      // What the sweep learnt shows with the next read, which follows at once.
      this.#poke();
      // At most half the time sampling: with many sandboxes on a slow engine, sweeps space out.
      const took = Date.now() - began;
      await this.#rest(Math.max(this.#timing.sampleMs - took, took), false);
    }
  }

  async #sample(c: ContainerSummary): Promise<UsagePoint | undefined> {
    const stats = await this.#engine.containers.stats(c.id, { disk: false }).catch(() => undefined);
    if (!stats) return undefined;
    const atMs = Date.now();
    const before = this.#usage.get(c.id);
    const cpuPercent =
      before && atMs > before.atMs
        ? Math.max(0, (100 * (stats.cpuNs - before.cpuNs)) / ((atMs - before.atMs) * 1e6))
        : 0;
    const shown = { cpuPercent: Math.round(cpuPercent * 10) / 10, memoryBytes: stats.memoryBytes, pids: stats.pids };
    this.#usage.set(c.id, { cpuNs: stats.cpuNs, atMs, shown });
    const point: UsagePoint = [atMs, shown.cpuPercent, stats.memoryBytes];
    this.#history.add(c.id, point);
    return point;
  }

  /**
   * Each running sandbox's supervisor asked of its idle time in turn, two at
   * a time, apart from the sweeps of use: opening a supervisor's connection
   * can take a second on a busy host, and the charts should not wait for it.
   */
  async #activityLoop(): Promise<void> {
    await this.#firstRead;
    while (!this.#closed()) {
      const began = Date.now();
      const limiter = new Limiter(2);
      const supervised = this.#listing.filter(
        (c) => c.status === "running" && c.labels[LABEL.supervisor] !== undefined,
      );
      await Promise.all(supervised.map((c) => limiter.run(() => this.#askActivity(c.id))));
      const ids = new Set(this.#listing.map((c) => c.id));
      for (const id of this.#idle.keys()) if (!ids.has(id)) this.#idle.delete(id);
      const took = Date.now() - began;
      await this.#rest(Math.max(this.#timing.activityMs - took, took), false);
    }
  }

  async #askActivity(id: string): Promise<void> {
    const activity = await supervisorActivity(this.#engine, id).catch(() => undefined);
    if (activity) this.#idle.set(id, { idleForMs: activity.idleForMs, running: activity.running, atMs: Date.now() });
  }

  /** Follows the engine's events: each one that changes a sandbox's state brings a read at once. */
  async #watchLoop(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      try {
        for await (const event of this.#engine.events.watch({
          actions: WATCHED_ACTIONS,
          labels: scopeLabels("sandbox", this.#app),
          signal,
        })) {
          this.#told.add(event.containerId);
          this.#poke();
        }
      } catch {
        // The stream broke (the engine restarted, say): the ticks go on, and the stream is opened again.
      }
      await this.#rest(this.#timing.tickMs, false);
    }
  }
}
