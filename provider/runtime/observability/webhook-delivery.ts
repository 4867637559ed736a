import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { sha256Hex } from "../../digest.ts";
import { ConflictError, InvalidArgumentError } from "../../errors.ts";
import { durationProblem } from "../../rules.ts";
import { DirLock } from "../local/dir-lock.ts";
import { eventKey, type SandboxEvent } from "../engine-state/event-kinds.ts";
import { systemClock, type Clock } from "../local/poll.ts";
import { defaultStateDir, ensurePrivateDir, ensureStateDir } from "../local/state-dir.ts";
import { postWebhook, type PostResult } from "./webhook-post.ts";
import { receiverKey, WebhookStore, type StoredDelivery, type StreamCursor } from "./webhook-store.ts";
import { DELIVERY_HEADER, signature, SIGNATURE_HEADER, TIMESTAMP_HEADER, type Webhook } from "./webhooks.ts";

/** Why a waiting delivery was given up, as the `reason` label of the dropped counter. */
export type DropReason = "refused" | "expired" | "overflow" | "removed" | "unreadable";

/** Labels of one receiver: its app, and its URL's origin with a short hash of the whole URL (a path may hold a token). */
export interface ReceiverLabels {
  app: string;
  receiver: string;
}

/** What the delivery counts; `sandfleet agent --metrics-addr` serves it (AgentMetrics). */
export interface DeliveryMetrics {
  webhookWaiting(labels: ReceiverLabels, count: number, bytes: number): void;
  webhookDelivered(labels: ReceiverLabels): void;
  webhookRetried(labels: ReceiverLabels): void;
  webhookDropped(labels: ReceiverLabels, reason: DropReason, count: number): void;
}

/** How long waiting deliveries are kept and retried: from an hour to 30 days. */
const WEBHOOK_RETENTION_MS = { min: 60 * 60 * 1000, max: 30 * 24 * 60 * 60 * 1000 } as const;

/** Why a retention is refused, or undefined. */
export function webhookRetentionProblem(ms: unknown): string | undefined {
  return durationProblem(ms, WEBHOOK_RETENTION_MS);
}

export interface DeliveryOptions {
  /** The agent's environment, where signing keys are looked up. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Where the queue is kept: `<stateDir>/webhooks/<engine and app>/`. Default: see defaultStateDir. */
  stateDir?: string;
  /** How long a delivery is retried before it is dropped as expired. Default 24 h. */
  retentionMs?: number;
  /** First wait before a retry, doubled each time up to `retryMaxMs`, with jitter. Default 1000. */
  retryBaseMs?: number;
  /** Longest wait between two attempts. Default 5 min. */
  retryMaxMs?: number;
  /** Deliveries kept per receiver; past it the oldest is dropped. Default 10,000. */
  maxWaiting?: number;
  /** Bytes kept per receiver on disk; past it the oldest is dropped. Default 16 MiB. */
  maxWaitingBytes?: number;
  /** Each attempt's time limit. Default 10 s. */
  timeoutMs?: number;
  clock?: Clock;
  /** @internal Jitter's source, in [0, 1). */
  random?: () => number;
  /** @internal The POST itself (a fake receiver in unit tests). */
  post?: typeof postWebhook;
  onFailure?: (message: string) => void;
  metrics?: DeliveryMetrics;
}

/** The engine and app whose events this queue holds: two agents of one scope share one queue directory and lock. */
export interface DeliveryScope {
  engine: string;
  app?: string;
}

/** A receiver no longer declared keeps its deliveries this long (a record being rewritten by `pulumi up` is briefly absent). */
const REMOVED_GRACE_MS = 10 * 60 * 1000;

/** One webhook URL of one app: its waiting deliveries in order, and the one worker that sends them. */
interface Receiver {
  key: string;
  labels: ReceiverLabels;
  app: string;
  url: string;
  items: StoredDelivery[];
  ids: Set<string>;
  bytes: number;
  nextSeq: number;
  inFlight: StoredDelivery | undefined;
  /** Cuts the worker's current wait short: a new delivery, a change of webhooks, the end. */
  wake: () => void;
  waitingFor: "delivery" | "hook" | "retry";
  missingSinceMs: number | undefined;
}

/**
 * The agent's webhook deliveries, kept on disk until a receiver takes them.
 * An event is written for each receiver that wants it before the watch of the
 * engine's events moves on (and before the stream position is saved), and is
 * removed only once the receiver answered 2xx, or refused it for good with a
 * 4xx other than 408 and 429. Each receiver has one worker that sends its
 * deliveries in order, retrying the first with capped, jittered backoff until
 * it is older than the retention; a receiver that is down holds back only
 * itself. After a restart, what waits resumes with the same delivery ids.
 */
export class WebhookDelivery {
  readonly #o: Required<Omit<DeliveryOptions, "onFailure" | "metrics" | "stateDir">> &
    Pick<DeliveryOptions, "onFailure" | "metrics">;
  readonly #base: string;
  readonly #root: string;
  readonly #scope: DeliveryScope;
  #store: WebhookStore | undefined;
  #lock: DirLock | undefined;
  readonly #receivers = new Map<string, Receiver>();
  readonly #workers = new Set<Promise<void>>();
  readonly #closing = new AbortController();
  #hooks = new Map<string, Webhook[]>();
  #cursor: StreamCursor | undefined;
  // Events seen before the webhooks were first read wait for them, rather than go nowhere.
  #markRead: () => void = () => undefined;
  readonly #read = new Promise<void>((resolve) => {
    this.#markRead = resolve;
  });

  constructor(scope: DeliveryScope, options: DeliveryOptions = {}) {
    const { stateDir, ...rest } = options;
    this.#o = {
      env: process.env,
      retentionMs: 24 * 60 * 60 * 1000,
      retryBaseMs: 1000,
      retryMaxMs: 5 * 60 * 1000,
      maxWaiting: 10_000,
      maxWaitingBytes: 16 * 1024 * 1024,
      timeoutMs: 10_000,
      clock: systemClock,
      random: Math.random,
      post: postWebhook,
      ...rest,
    };
    const retention = webhookRetentionProblem(this.#o.retentionMs);
    if (retention) throw new InvalidArgumentError(`webhooks retentionMs ${retention}`);
    for (const [name, value] of [
      ["maxWaiting", this.#o.maxWaiting],
      ["maxWaitingBytes", this.#o.maxWaitingBytes],
      ["retryBaseMs", this.#o.retryBaseMs],
      ["retryMaxMs", this.#o.retryMaxMs],
    ] as const)
      if (!Number.isInteger(value) || value < 1)
        throw new InvalidArgumentError(`webhooks ${name} must be a whole number from 1, not ${String(value)}`);
    this.#scope = scope;
    const scopeKey = sha256Hex(`${scope.engine}\n${scope.app ?? "*"}`).slice(0, 16);
    this.#base = stateDir ?? defaultStateDir(this.#o.env);
    this.#root = join(this.#base, "webhooks", scopeKey);
  }

  /** The directory this queue keeps its files in. */
  get directory(): string {
    return this.#root;
  }

  /**
   * Takes the queue's lock, loads what waits and starts sending it (once the
   * webhooks are known). Returns where the engine's event stream resumes: the
   * last event taken before, bounded by the retention, with the events taken
   * at that moment (to be told no more).
   */
  open(): { sinceMs?: number; seen: string[] } {
    if (this.#store) throw new InvalidArgumentError("the webhook queue is already open");
    ensureStateDir(this.#base);
    ensurePrivateDir(join(this.#base, "webhooks"));
    this.#refuseOverlap();
    const store = new WebhookStore(this.#root);
    const { lock, tookOver } = DirLock.take(this.#root, `the webhook queue ${this.#root}`);
    try {
      return this.#load(store, lock, tookOver);
    } catch (error) {
      lock.release();
      throw error;
    }
  }

  /**
   * An agent of every app and an agent of one app, on the same engine and
   * state directory, would both deliver that app's events: the second to
   * start refuses, naming the first.
   */
  #refuseOverlap(): void {
    const queues = join(this.#base, "webhooks");
    for (const entry of readdirSync(queues)) {
      const dir = join(queues, entry);
      if (dir === this.#root) continue;
      let scope: { engine?: unknown; app?: unknown };
      try {
        scope = JSON.parse(readFileSync(join(dir, "scope.json"), "utf8")) as typeof scope;
      } catch {
        continue;
      }
      const mine = this.#scope.app ?? "*";
      if (scope.engine !== this.#scope.engine || (scope.app !== "*" && mine !== "*")) continue;
      const holder = DirLock.liveHolder(dir);
      if (!holder) continue;
      const [host, pid] = holder.split(":");
      const theirs = scope.app === "*" ? "every app" : `app ${String(scope.app)}`;
      throw new ConflictError(
        `an agent of ${theirs} on ${this.#scope.engine} (pid ${pid ?? "?"} on ${host ?? "?"}) already delivers ` +
          `webhooks from ${dir}, which overlap with this one's; stop it, or give this one a state directory of its own`,
      );
    }
  }

  #load(store: WebhookStore, lock: DirLock, tookOver: string | undefined): { sinceMs?: number; seen: string[] } {
    this.#lock = lock;
    this.#store = store;
    if (tookOver) this.#say(`webhooks: took over the queue ${this.#root} from a process that is gone (${tookOver})`);
    store.describe({ engine: this.#scope.engine, app: this.#scope.app ?? "*" });
    const unreadable = new Map<string, number>();
    for (const { key, deliveries } of store.load((file, why, key) => {
      this.#say(`webhooks: skipped ${file}: ${why}`);
      unreadable.set(key, (unreadable.get(key) ?? 0) + 1);
    })) {
      const first = deliveries[0];
      if (!first) continue;
      const r = this.#receiver(first.app, first.url, key);
      for (const d of deliveries) {
        r.items.push(d);
        r.ids.add(d.id);
        r.bytes += d.bytes;
        r.nextSeq = Math.max(r.nextSeq, d.seq + 1);
      }
      this.#trim(r); // a bound lowered since they were queued
      this.#gauge(r);
    }
    for (const [key, count] of unreadable) {
      // A receiver none of whose records could be read is known by its directory's name alone.
      const labels = this.#receivers.get(key)?.labels ?? { app: "", receiver: `?#${key.slice(0, 8)}` };
      this.#o.metrics?.webhookDropped(labels, "unreadable", count);
    }
    const cursor = store.readCursor();
    this.#cursor = cursor;
    const floor = this.#o.clock.now() - this.#o.retentionMs;
    return cursor && cursor.timeMs >= floor ? { sinceMs: cursor.timeMs, seen: cursor.keys } : { seen: [] };
  }

  /** The webhooks in force, as read from the engine. */
  use(hooks: Map<string, Webhook[]>): void {
    this.#hooks = hooks;
    this.#markRead();
    // A receiver waiting for its webhook to be declared again looks at the new list.
    for (const r of this.#receivers.values()) if (r.waitingFor === "hook") r.wake();
  }

  /** Writes the event for each receiver that wants it; resolves once it is on disk. */
  async take(event: SandboxEvent): Promise<void> {
    await this.#read;
    const store = this.#store;
    if (!store) throw new InvalidArgumentError("the webhook queue is not open");
    // Closed, or its lock was taken by another agent, which takes the stream's events itself.
    if (this.#closing.signal.aborted) return;
    const key = eventKey(event);
    const body = JSON.stringify(event);
    for (const hook of this.#hooks.get(event.app) ?? []) {
      if (hook.events && !hook.events.includes(event.kind)) continue;
      const r = this.#receiver(event.app, hook.url);
      const id = sha256Hex(`${hook.url}\n${key}`).slice(0, 32);
      if (r.ids.has(id)) continue; // a replay of what waits already
      const stored = store.write(r.key, {
        id,
        seq: r.nextSeq++,
        app: event.app,
        url: hook.url,
        queuedMs: this.#o.clock.now(),
        body,
      });
      r.items.push(stored);
      r.ids.add(id);
      r.bytes += stored.bytes;
      this.#trim(r);
      this.#gauge(r);
      if (r.waitingFor === "delivery") r.wake();
    }
    const timeMs = Date.parse(event.time);
    this.#cursor =
      this.#cursor?.timeMs === timeMs ? { timeMs, keys: [...this.#cursor.keys, key] } : { timeMs, keys: [key] };
    store.writeCursor(this.#cursor);
  }

  /** Deliveries waiting, in all. */
  waiting(): number {
    let count = 0;
    for (const r of this.#receivers.values()) count += r.items.length;
    return count;
  }

  /** Stops sending (an attempt under way is cut off, and kept), and releases the lock. What waits stays on disk. */
  async close(): Promise<void> {
    this.#closing.abort();
    for (const r of this.#receivers.values()) r.wake();
    while (this.#workers.size > 0) await Promise.all(this.#workers);
    this.#lock?.release();
  }

  /** A method, not the flag itself: the flag changes while an attempt is awaited. */
  #closed(): boolean {
    return this.#closing.signal.aborted;
  }

  #say(message: string): void {
    this.#o.onFailure?.(message);
  }

  #receiver(app: string, url: string, key = receiverKey(app, url)): Receiver {
    const known = this.#receivers.get(key);
    if (known) return known;
    let origin: string;
    try {
      origin = new URL(url).origin;
    } catch {
      origin = "?";
    }
    const r: Receiver = {
      key,
      labels: { app, receiver: `${origin}#${key.slice(0, 8)}` },
      app,
      url,
      items: [],
      ids: new Set(),
      bytes: 0,
      nextSeq: 1,
      inFlight: undefined,
      wake: () => undefined,
      waitingFor: "delivery",
      missingSinceMs: undefined,
    };
    this.#receivers.set(key, r);
    const worker = this.#workSafely(r).finally(() => this.#workers.delete(worker));
    this.#workers.add(worker);
    return r;
  }

  /** Past the receiver's bound, the oldest deliveries not under way are dropped. */
  #trim(r: Receiver): void {
    let dropped = 0;
    while (r.items.length > this.#o.maxWaiting || r.bytes > this.#o.maxWaitingBytes) {
      const oldest = r.items.find((d) => d !== r.inFlight && d !== r.items.at(-1));
      if (!oldest) break;
      this.#remove(r, oldest);
      dropped++;
    }
    if (dropped > 0) {
      this.#o.metrics?.webhookDropped(r.labels, "overflow", dropped);
      this.#say(
        `webhook ${r.labels.receiver} of ${r.app}: more than ${String(this.#o.maxWaiting)} deliveries or ` +
          `${String(this.#o.maxWaitingBytes)} bytes waiting; dropped the oldest ${String(dropped)}`,
      );
    }
  }

  #remove(r: Receiver, d: StoredDelivery): void {
    const at = r.items.indexOf(d);
    if (at < 0) return;
    r.items.splice(at, 1);
    r.ids.delete(d.id);
    r.bytes -= d.bytes;
    this.#store?.remove(r.key, d.seq);
  }

  #drop(r: Receiver, d: StoredDelivery, reason: DropReason, why: string): void {
    this.#remove(r, d);
    this.#o.metrics?.webhookDropped(r.labels, reason, 1);
    this.#gauge(r);
    this.#say(`webhook ${r.labels.receiver} of ${r.app}: dropped delivery ${d.id} (${reason}): ${why}`);
  }

  #gauge(r: Receiver): void {
    this.#o.metrics?.webhookWaiting(r.labels, r.items.length, r.bytes);
  }

  /** Waits `ms` (or until woken); false once the queue is closing. */
  async #wait(r: Receiver, waitingFor: Receiver["waitingFor"], ms: number | undefined): Promise<boolean> {
    if (this.#closing.signal.aborted) return false;
    const woken = new AbortController();
    r.wake = () => {
      woken.abort();
    };
    r.waitingFor = waitingFor;
    const signal = AbortSignal.any([woken.signal, this.#closing.signal]);
    if (ms === undefined) {
      if (!signal.aborted)
        await new Promise((resolve) => {
          signal.addEventListener("abort", resolve, { once: true });
        });
    } else await this.#o.clock.sleep(ms, signal);
    r.wake = () => undefined;
    return !this.#closing.signal.aborted;
  }

  /**
   * A worker that a failure of the disk (a file it cannot remove) never ends,
   * nor the agent with it: said, and tried again a minute later.
   */
  async #workSafely(r: Receiver): Promise<void> {
    for (;;) {
      try {
        await this.#work(r);
        return;
      } catch (error) {
        this.#say(
          `webhook ${r.labels.receiver} of ${r.app}: ${error instanceof Error ? error.message : String(error)}; ` +
            `trying again in 60 s`,
        );
        if (!(await this.#wait(r, "retry", 60_000))) return;
      }
    }
  }

  async #work(r: Receiver): Promise<void> {
    await Promise.race([
      this.#read,
      new Promise((resolve) => {
        this.#closing.signal.addEventListener("abort", resolve, { once: true });
      }),
    ]);
    let attempt = 0;
    while (!this.#closing.signal.aborted) {
      const head = r.items[0];
      if (!head) {
        attempt = 0;
        if (!(await this.#wait(r, "delivery", undefined))) return;
        continue;
      }
      const now = this.#o.clock.now();
      const age = now - head.queuedMs;
      if (age >= this.#o.retentionMs) {
        this.#drop(r, head, "expired", `not delivered within the retention (${String(this.#o.retentionMs)} ms)`);
        attempt = 0;
        continue;
      }
      const hook = this.#hooks.get(r.app)?.find((h) => h.url === r.url);
      if (!hook) {
        r.missingSinceMs ??= now;
        if (now - r.missingSinceMs >= REMOVED_GRACE_MS) {
          for (const d of [...r.items]) this.#drop(r, d, "removed", "the app no longer declares this webhook");
          continue;
        }
        const until = Math.min(r.missingSinceMs + REMOVED_GRACE_MS, head.queuedMs + this.#o.retentionMs);
        if (!(await this.#wait(r, "hook", until - now))) return;
        continue;
      }
      r.missingSinceMs = undefined;
      if (this.#lock && !this.#lock.holds()) {
        this.#say(
          `webhooks: the lock of the queue ${this.#root} no longer names this agent (another agent took it, or it ` +
            `was removed); this one stops delivering`,
        );
        this.#closing.abort();
        return;
      }
      r.inFlight = head;
      const outcome = await this.#attempt(hook, head);
      r.inFlight = undefined;
      if (this.#closed()) return; // cut off: it stays, and is sent again after a restart
      if (outcome.kind === "delivered") {
        this.#remove(r, head);
        this.#o.metrics?.webhookDelivered(r.labels);
        this.#gauge(r);
        attempt = 0;
        continue;
      }
      if (outcome.kind === "refused") {
        this.#drop(r, head, "refused", outcome.why);
        attempt = 0;
        continue;
      }
      attempt++;
      this.#o.metrics?.webhookRetried(r.labels);
      const delayMs = this.#backoff(attempt);
      this.#say(
        `webhook ${r.labels.receiver} of ${r.app}: delivery ${head.id} not delivered (attempt ${String(attempt)}): ` +
          `${outcome.why}; next attempt in ${(delayMs / 1000).toFixed(1)} s`,
      );
      if (!(await this.#wait(r, "retry", delayMs))) return;
    }
  }

  /** Doubling from the base up to the cap, then each wait drawn from its upper half: receivers that come back are not all hit at once. */
  #backoff(attempt: number): number {
    const full = Math.min(this.#o.retryMaxMs, this.#o.retryBaseMs * 2 ** Math.min(attempt - 1, 30));
    return Math.round(full / 2 + (full / 2) * this.#o.random());
  }

  async #attempt(
    hook: Webhook,
    d: StoredDelivery,
  ): Promise<{ kind: "delivered" } | { kind: "refused" | "retry"; why: string }> {
    const key = this.#o.env[hook.secretEnv];
    if (!key) return { kind: "retry", why: `${hook.secretEnv} is not set in the agent's environment` };
    const timestamp = String(Math.floor(this.#o.clock.now() / 1000));
    const headers = {
      "content-type": "application/json",
      [SIGNATURE_HEADER]: signature(key, timestamp, d.body),
      [TIMESTAMP_HEADER]: timestamp,
      [DELIVERY_HEADER]: d.id,
    };
    let result: PostResult;
    try {
      result = await this.#o.post(hook.url, headers, d.body, {
        allowPrivate: hook.allowPrivate === true,
        timeoutMs: this.#o.timeoutMs,
        signal: this.#closing.signal,
      });
    } catch (error) {
      return { kind: "retry", why: error instanceof Error ? error.message : String(error) };
    }
    const { status } = result;
    if (status >= 200 && status < 300) return { kind: "delivered" };
    // A redirect is not followed: it could lead anywhere, inside networks included.
    const why = `answered ${String(status)}${status >= 300 && status < 400 ? " (a redirect, which webhooks never follow)" : ""}`;
    // A 4xx says the receiver will never take it; 408 and 429 say "not now".
    if (status >= 400 && status < 500 && status !== 408 && status !== 429) return { kind: "refused", why };
    return { kind: "retry", why };
  }
}
