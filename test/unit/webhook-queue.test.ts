import { spawnSync } from "node:child_process";
import { createHmac } from "node:crypto";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { Engine, EngineEvent } from "../../provider/engines/port.ts";
import { ConflictError } from "../../provider/errors.ts";
import { Agent } from "../../provider/runtime/agent/agent.ts";
import { LABEL } from "../../provider/runtime/engine-state/labels.ts";
import type { SandboxEvent } from "../../provider/runtime/engine-state/event-kinds.ts";
import {
  WebhookDelivery,
  type DeliveryMetrics,
  type DeliveryOptions,
  type DropReason,
} from "../../provider/runtime/observability/webhook-delivery.ts";
import type { Webhook } from "../../provider/runtime/observability/webhooks.ts";
import { FakeClock, settle } from "../support/fake-clock.ts";

const MINUTE = 60_000;
const app = "shop";
const url = "https://hooks.example.test/sandfleet";
const key = "unit-test-signing-key";
const hooks = (list: Webhook[] = [{ url, secretEnv: "HOOK_KEY" }]) => new Map([[app, list]]);

interface Attempt {
  atMs: number;
  id: string;
  body: string;
  timestamp: string;
  signature: string;
  /** What it answered; none for a network error. */
  status?: number;
}

/** A receiver behind the fake POST: it records every attempt and answers as `answer` says (a throw is a network error). */
function fakeReceiver(clock: FakeClock) {
  const attempts: Attempt[] = [];
  let answer: (attempt: Attempt) => number = () => {
    throw new Error("connect ECONNREFUSED");
  };
  const post: NonNullable<DeliveryOptions["post"]> = (_url, headers, body) => {
    const attempt: Attempt = {
      atMs: clock.now(),
      id: headers["x-sandfleet-delivery"] ?? "",
      body,
      timestamp: headers["x-sandfleet-timestamp"] ?? "",
      signature: headers["x-sandfleet-signature"] ?? "",
    };
    attempts.push(attempt);
    try {
      attempt.status = answer(attempt);
      return Promise.resolve({ status: attempt.status });
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  };
  return {
    attempts,
    post,
    answer: (how: (attempt: Attempt) => number) => {
      answer = how;
    },
    /** What a receiver that deduplicates by delivery id kept: each id it answered 2xx once, in arrival order. */
    kept: () => {
      const seen = new Set<string>();
      return attempts
        .filter((a) => a.status !== undefined && a.status >= 200 && a.status < 300)
        .filter((a) => !seen.has(a.id) && seen.add(a.id))
        .map((a) => JSON.parse(a.body) as SandboxEvent);
    },
  };
}

function fakeMetrics() {
  const counts = { delivered: 0, retried: 0, dropped: {} as Partial<Record<DropReason, number>>, waiting: 0 };
  const metrics: DeliveryMetrics = {
    webhookWaiting: (_labels, count) => {
      counts.waiting = count;
    },
    webhookDelivered: () => {
      counts.delivered++;
    },
    webhookRetried: () => {
      counts.retried++;
    },
    webhookDropped: (_labels, reason, count) => {
      counts.dropped[reason] = (counts.dropped[reason] ?? 0) + count;
    },
  };
  return { counts, metrics };
}

const event = (clock: FakeClock, n: number): SandboxEvent => ({
  time: new Date(clock.now()).toISOString(),
  kind: "created",
  app,
  sandbox: `s${String(n)}`,
  id: `container-${String(n)}`,
});

const open: WebhookDelivery[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((d) => d.close()));
});

/** A delivery as the agent makes one, on a fresh state directory unless given one. */
function delivery(clock: FakeClock, options: DeliveryOptions & { stateDir: string }, log: string[] = []) {
  const d = new WebhookDelivery(
    { engine: "unix:///var/run/docker.sock", app },
    { clock, env: { HOOK_KEY: key }, random: () => 0.5, onFailure: (m) => log.push(m), ...options },
  );
  open.push(d);
  return d;
}

const made: string[] = [];
const stateDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "sandfleet-queue-"));
  made.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const recordFiles = (d: WebhookDelivery) =>
  readdirSync(d.directory, { recursive: true, encoding: "utf8" }).filter((f) => /\d{16}\.json$/.test(f));

describe("the agent's webhook queue", () => {
  it("keeps a receiver's deliveries through 10 minutes down and a restart: nothing lost, in order, same ids", async () => {
    const clock = new FakeClock();
    const receiver = fakeReceiver(clock);
    const { counts, metrics } = fakeMetrics();
    const dir = stateDir();
    const first = delivery(clock, { stateDir: dir, post: receiver.post, metrics });
    expect(first.open()).toEqual({ seen: [] });
    first.use(hooks());
    const events: SandboxEvent[] = [];
    const take = async (d: WebhookDelivery) => {
      const e = event(clock, events.length + 1);
      events.push(e);
      await d.take(e);
    };
    for (let i = 0; i < 5; i++) {
      await take(first);
      await clock.advance(30_000);
    }
    await clock.advance(2 * MINUTE);
    expect(counts.waiting).toBe(5);
    const idsBefore = new Set(receiver.attempts.map((a) => a.id));
    expect(idsBefore.size).toBe(1); // only the first is tried while it fails: the rest wait behind it

    // The agent stops (a restart) with everything still waiting; a new one resumes from its files.
    await first.close();
    const second = delivery(clock, { stateDir: dir, post: receiver.post, metrics });
    const resumed = second.open();
    expect(resumed.sinceMs).toBe(Date.parse(events.at(-1)?.time ?? ""));
    expect(resumed.seen).toEqual([`container-5 created ${events.at(-1)?.time ?? ""}`]);
    second.use(hooks());
    for (let i = 0; i < 3; i++) {
      await take(second);
      await clock.advance(MINUTE);
    }
    // Down for 10 minutes in all, then back.
    await clock.advance(10 * MINUTE - (clock.now() - (receiver.attempts[0]?.atMs ?? 0)));
    expect(receiver.attempts.every((a) => a.id === receiver.attempts[0]?.id)).toBe(true);
    receiver.answer(() => 200);
    await clock.advance(6 * MINUTE);

    expect(receiver.kept().map((e) => e.sandbox)).toEqual(events.map((e) => e.sandbox));
    // The first delivery kept its id across the restart.
    expect(receiver.attempts.find((a) => a.status === 200)?.id).toBe([...idsBefore][0]);
    // Every attempt of one id carries the same bytes, and a valid signature of them.
    for (const a of receiver.attempts) {
      expect(a.body).toBe(receiver.attempts.find((b) => b.id === a.id)?.body);
      const expected = createHmac("sha256", key).update(`${a.timestamp}.${a.body}`).digest("hex");
      expect(a.signature).toBe(`sha256=${expected}`);
    }
    expect(second.waiting()).toBe(0);
    expect(recordFiles(second)).toEqual([]);
    expect(counts).toMatchObject({ delivered: 8, waiting: 0, dropped: {} });
    expect(counts.retried).toBe(receiver.attempts.length - 8);
  });

  it("backs off, doubling to a cap of 5 minutes with jitter, and keeps trying for as long as the retention", async () => {
    const clock = new FakeClock();
    const receiver = fakeReceiver(clock);
    const { counts, metrics } = fakeMetrics();
    const d = delivery(clock, { stateDir: stateDir(), post: receiver.post, metrics, retentionMs: 60 * MINUTE });
    d.open();
    d.use(hooks());
    await d.take(event(clock, 1));
    await clock.advance(59 * MINUTE);
    const gaps = receiver.attempts.slice(1).map((a, i) => a.atMs - (receiver.attempts[i]?.atMs ?? 0));
    // random() is 0.5 here: each wait is 3/4 of the doubled base (1 s, 2 s, 4 s, ...), capped at 5 minutes.
    expect(gaps.slice(0, 4)).toEqual([750, 1500, 3000, 6000]);
    expect(Math.max(...gaps)).toBe(225_000);
    expect(receiver.attempts.at(-1)?.atMs).toBeGreaterThan(clock.now() - 5 * MINUTE);
    expect(counts.dropped).toEqual({});
    // Past the retention it is dropped, and counted.
    await clock.advance(6 * MINUTE);
    expect(counts.dropped).toEqual({ expired: 1 });
    expect(d.waiting()).toBe(0);
  });

  it("drops a delivery the receiver refuses with a 4xx and sends the next; retries 408, 429, 5xx and 3xx", async () => {
    const clock = new FakeClock();
    const receiver = fakeReceiver(clock);
    const { counts, metrics } = fakeMetrics();
    const log: string[] = [];
    const d = delivery(clock, { stateDir: stateDir(), post: receiver.post, metrics }, log);
    d.open();
    d.use(hooks());
    const answers = new Map<string, number[]>([
      ["s1", [404]],
      ["s2", [408, 429, 503, 307, 200]],
      ["s3", [200]],
    ]);
    receiver.answer((a) => answers.get((JSON.parse(a.body) as SandboxEvent).sandbox)?.shift() ?? 500);
    for (let i = 1; i <= 3; i++) await d.take(event(clock, i));
    await clock.advance(MINUTE);
    expect(receiver.attempts.map((a) => (JSON.parse(a.body) as SandboxEvent).sandbox)).toEqual([
      "s1",
      "s2",
      "s2",
      "s2",
      "s2",
      "s2",
      "s3",
    ]);
    expect(counts).toMatchObject({ delivered: 2, retried: 4, dropped: { refused: 1 } });
    expect(log.join("\n")).toContain("(refused): answered 404");
    expect(log.join("\n")).toContain("answered 307 (a redirect, which webhooks never follow)");
  });

  it("past its bound a receiver's oldest deliveries are dropped and counted, by count and by bytes", async () => {
    const clock = new FakeClock();
    const receiver = fakeReceiver(clock);
    const { counts, metrics } = fakeMetrics();
    const log: string[] = [];
    const d = delivery(clock, { stateDir: stateDir(), post: receiver.post, metrics, maxWaiting: 3 }, log);
    d.open();
    d.use(hooks());
    for (let i = 1; i <= 5; i++) await d.take(event(clock, i));
    expect(d.waiting()).toBe(3);
    expect(recordFiles(d)).toHaveLength(3);
    expect(counts.dropped).toEqual({ overflow: 2 });
    expect(log.join("\n")).toContain("dropped the oldest 1");
    receiver.answer(() => 200);
    await clock.advance(MINUTE);
    expect(receiver.kept().map((e) => e.sandbox)).toEqual(["s3", "s4", "s5"]);

    const small = delivery(clock, { stateDir: stateDir(), post: fakeReceiver(clock).post, maxWaitingBytes: 1000 });
    small.open();
    small.use(hooks());
    for (let i = 1; i <= 10; i++) await small.take(event(clock, i));
    const bytes = recordFiles(small).reduce((sum, f) => sum + statSync(join(small.directory, f)).size, 0);
    expect(bytes).toBeLessThanOrEqual(1000);
    expect(small.waiting()).toBeGreaterThan(0);
  });

  it("survives a torn last record and a leftover temporary file: skipped with a log line, the rest delivered", async () => {
    const clock = new FakeClock();
    const receiver = fakeReceiver(clock);
    const { counts, metrics } = fakeMetrics();
    const dir = stateDir();
    const first = delivery(clock, { stateDir: dir, post: receiver.post });
    first.open();
    first.use(hooks());
    for (let i = 1; i <= 3; i++) await first.take(event(clock, i));
    await first.close();
    const files = recordFiles(first).sort();
    const last = join(first.directory, files.at(-1) ?? "");
    truncateSync(last, Math.floor(statSync(last).size / 2));
    writeFileSync(`${last}.tmp`, "{", { mode: 0o600 });

    const log: string[] = [];
    const second = delivery(clock, { stateDir: dir, post: receiver.post, metrics }, log);
    second.open();
    second.use(hooks());
    expect(log.join("\n")).toMatch(/skipped .*0000000000000003\.json: torn/);
    receiver.answer(() => 200);
    await clock.advance(MINUTE);
    expect(receiver.kept().map((e) => e.sandbox)).toEqual(["s1", "s2"]);
    expect(counts.dropped).toEqual({ unreadable: 1 });
    expect(recordFiles(second)).toEqual([]);
    // The next delivery takes a number after the torn one's.
    await second.take(event(clock, 4));
    await clock.advance(MINUTE);
    expect(receiver.kept().map((e) => e.sandbox)).toEqual(["s1", "s2", "s4"]);
  });

  it("a file it cannot remove is said, and its worker goes on a minute later: never a crash", async () => {
    const clock = new FakeClock();
    const receiver = fakeReceiver(clock);
    const log: string[] = [];
    const d = delivery(clock, { stateDir: stateDir(), post: receiver.post }, log);
    d.open();
    d.use(hooks());
    await d.take(event(clock, 1));
    const dir = join(d.directory, readdirSync(d.directory).find((f) => f.startsWith("r-")) ?? "");
    rmSync(dir, { recursive: true });
    writeFileSync(dir, "not a directory"); // its delivery cannot be removed now
    receiver.answer(() => 200);
    await clock.advance(30_000);
    expect(log.join("\n")).toMatch(/ENOTDIR.*trying again in 60 s/);
    rmSync(dir);
    mkdirSync(dir, { mode: 0o700 });
    await d.take(event(clock, 2));
    await clock.advance(2 * MINUTE);
    expect(receiver.kept().map((e) => e.sandbox)).toEqual(["s1", "s2"]);
    expect(d.waiting()).toBe(0);
  });

  it("is one agent's: a second one on the same directory is refused, and a dead holder's lock is taken over", async () => {
    const clock = new FakeClock();
    const dir = stateDir();
    const first = delivery(clock, { stateDir: dir });
    first.open();
    const second = delivery(clock, { stateDir: dir });
    expect(() => second.open()).toThrow(ConflictError);
    expect(() => second.open()).toThrow(/is locked by another process \(pid \d+ on /);
    await first.close();

    // A lock left by a process that has ended (killed before it could release it).
    const gone = spawnSync("true").pid;
    writeFileSync(join(first.directory, "lock"), `${hostname()}:${String(gone)}:12345:abcd\n`, { mode: 0o600 });
    const log: string[] = [];
    const third = delivery(clock, { stateDir: dir }, log);
    third.open();
    expect(log.join("\n")).toContain(`from a process that is gone (${hostname()}:${String(gone)}:12345:abcd)`);
    expect(readFileSync(join(first.directory, "lock"), "utf8")).toContain(`:${String(process.pid)}:`);
    await third.close();

    // A lock made but never written (its maker killed in between): refused while fresh, taken over once old.
    const lock = join(first.directory, "lock");
    writeFileSync(lock, "", { mode: 0o600 });
    const fourth = delivery(clock, { stateDir: dir });
    expect(() => fourth.open()).toThrow(ConflictError);
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    fourth.open();
    expect(readFileSync(lock, "utf8")).toContain(`:${String(process.pid)}:`);
  });

  it("an agent of every app and an agent of one app on the same engine and directory: the second refuses", async () => {
    const clock = new FakeClock();
    const dir = stateDir();
    const engine = "unix:///var/run/docker.sock";
    const everyApp = new WebhookDelivery({ engine }, { clock, stateDir: dir });
    open.push(everyApp);
    everyApp.open();
    const oneApp = delivery(clock, { stateDir: dir });
    expect(() => oneApp.open()).toThrow(
      /an agent of every app on unix:\/\/\/var\/run\/docker\.sock \(pid \d+ on .*\) already delivers/,
    );
    // Another engine's, or another app's beside an app's, are queues of their own.
    const otherEngine = new WebhookDelivery({ engine: "tcp://127.0.0.1:2375", app }, { clock, stateDir: dir });
    open.push(otherEngine);
    otherEngine.open();
    await everyApp.close();
    oneApp.open();
    const otherApp = new WebhookDelivery({ engine, app: "other" }, { clock, stateDir: dir });
    open.push(otherApp);
    otherApp.open();
  });

  it("waits for a webhook missing from the record for a moment, and drops its deliveries once it stays removed", async () => {
    const clock = new FakeClock();
    const receiver = fakeReceiver(clock);
    const { counts, metrics } = fakeMetrics();
    const d = delivery(clock, { stateDir: stateDir(), post: receiver.post, metrics });
    d.open();
    d.use(hooks());
    await d.take(event(clock, 1));
    d.use(new Map()); // `pulumi up` rewrites the record: it is absent for a moment
    receiver.answer(() => 200);
    await clock.advance(MINUTE);
    d.use(hooks());
    await settle();
    await clock.advance(MINUTE);
    expect(counts.delivered).toBe(1);
    receiver.answer(() => 503);
    await d.take(event(clock, 2));
    d.use(new Map());
    await clock.advance(11 * MINUTE);
    expect(counts.dropped).toEqual({ removed: 1 });
  });
});

/**
 * An engine that only streams events: each is replayed from the whole second
 * of `sinceMs` (as Docker's `since` is in seconds), then the stream waits
 * for more until the watch is aborted. Every other call fails, which the
 * agent's passes report and go on from.
 */
function streamingEngine() {
  const events: EngineEvent[] = [];
  const listeners = new Set<() => void>();
  const refuse = () => Promise.reject(new Error("not in this fake engine"));
  const engine = {
    host: "fake://engine",
    events: {
      async *watch(params: { sinceMs?: number; signal: AbortSignal }): AsyncIterable<EngineEvent> {
        let next = 0;
        const fromMs = Math.floor((params.sinceMs ?? 0) / 1000) * 1000;
        while (!params.signal.aborted) {
          const event = events[next];
          if (event) {
            next++;
            if (event.timeMs >= fromMs) yield event;
            continue;
          }
          await new Promise<void>((resolve) => {
            const wake = () => {
              listeners.delete(wake);
              resolve();
            };
            listeners.add(wake);
            params.signal.addEventListener("abort", wake, { once: true });
          });
        }
      },
      containerEvents: refuse,
    },
    containers: { list: refuse },
    records: { list: refuse },
    networks: { list: refuse },
    images: { list: refuse },
  };
  return {
    engine: engine as unknown as Engine,
    create(timeMs: number, name: string) {
      const labels = { [LABEL.app]: app, [LABEL.kind]: "sandbox", [LABEL.name]: name };
      events.push({
        timeMs,
        action: "create",
        detail: "",
        containerId: `id-${name}`,
        execId: undefined,
        attributes: labels,
      });
      for (const wake of [...listeners]) wake();
    },
  };
}

describe("the agent and its webhook queue", () => {
  it("resumes the engine's stream where it stopped: what happened while no agent ran is delivered, nothing twice", async () => {
    const clock = new FakeClock(1_000_000);
    const receiver = fakeReceiver(clock);
    const engine = streamingEngine();
    const dir = stateDir();
    const runAgent = () => {
      const delivery = delivery_(clock, dir, receiver.post);
      const agent = new Agent({
        docker: engine.engine,
        app,
        clock,
        reconcilers: [
          () => {
            delivery.use(hooks());
            return Promise.resolve([]);
          },
        ],
        eventSink: delivery,
        onEvent: () => undefined,
      });
      const stop = new AbortController();
      return {
        delivery,
        running: agent.run(stop.signal),
        stop: () => {
          stop.abort();
        },
      };
    };
    const waitFor = async (what: string, check: () => boolean) => {
      for (let i = 0; i < 200 && !check(); i++) await settle();
      expect(check(), what).toBe(true);
    };

    const first = runAgent();
    receiver.answer(() => 200);
    engine.create(1_000_100, "a");
    engine.create(1_001_200, "b");
    engine.create(1_001_500, "c");
    await waitFor("three delivered", () => receiver.kept().length === 3);
    first.stop();
    await first.running;

    // While no agent runs, the engine goes on, and the receiver goes down.
    receiver.answer(() => 503);
    engine.create(1_002_000, "d");
    engine.create(1_002_000, "e");
    const second = runAgent();
    // Replayed from second 1001: b (before the saved position) and c (taken at it) are not queued again.
    await waitFor("two queued", () => second.delivery.waiting() === 2);
    engine.create(1_003_000, "f");
    await waitFor("three queued", () => second.delivery.waiting() === 3);
    receiver.answer(() => 200);
    await clock.advance(6 * MINUTE);
    expect(receiver.kept().map((e) => e.sandbox)).toEqual(["a", "b", "c", "d", "e", "f"]);
    expect(receiver.attempts.filter((a) => a.status === 200)).toHaveLength(6);
    second.stop();
    await second.running;
  });
});

function delivery_(clock: FakeClock, dir: string, post: DeliveryOptions["post"]) {
  const d = new WebhookDelivery(
    { engine: "fake://engine", app },
    { clock, env: { HOOK_KEY: key }, random: () => 0.5, stateDir: dir, ...(post ? { post } : {}) },
  );
  return d;
}
