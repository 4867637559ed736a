import { describe, expect, it } from "vitest";
import {
  leaderElection,
  type LeaderChange,
  type LeaseRecord,
  type LeaseStore,
} from "../../provider/runtime/agent/leader-election.ts";

/** A lease kept in memory, with versions that change on each write, as the API server's do. */
function memoryLease(): LeaseStore & { record: (LeaseRecord & { version: string }) | undefined; down: boolean } {
  let version = 0;
  const store = {
    record: undefined as (LeaseRecord & { version: string }) | undefined,
    down: false,
    async read() {
      if (store.down) throw new Error("unreachable");
      return store.record && { ...store.record };
    },
    async create(record: LeaseRecord) {
      if (store.down) throw new Error("unreachable");
      if (store.record) return false;
      store.record = { ...record, version: String(++version) };
      return true;
    },
    async replace(record: LeaseRecord, expected: string) {
      if (store.down) throw new Error("unreachable");
      if (store.record?.version !== expected) return false;
      store.record = { ...record, version: String(++version) };
      return true;
    },
  };
  return store;
}

const FAST = { durationMs: 300, renewDeadlineMs: 200, retryMs: 20 };
const waitFor = async (check: () => boolean, ms = 3000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

function replica(identity: string, store: LeaseStore) {
  const changes: LeaderChange[] = [];
  const toldAt = new Map<string, number>();
  const stop = new AbortController();
  let passes = 0;
  const election = leaderElection({
    identity,
    store,
    ...FAST,
    onChange: (c) => {
      changes.push(c);
      if (!toldAt.has(c.state)) toldAt.set(c.state, Date.now());
    },
  });
  const done = election.run(stop.signal, async (term) => {
    while (!term.aborted) {
      passes++;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  });
  return { election, changes, toldAt, stop, done, passes: () => passes };
}

describe("leaderElection", () => {
  it("lets one of two replicas lead, and the other only after the leader gives the lease up", async () => {
    const store = memoryLease();
    const a = replica("a", store);
    const b = replica("b", store);
    await waitFor(() => a.election.leading || b.election.leading);
    const [leader, follower] = a.election.leading ? [a, b] : [b, a];
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(follower.election.leading).toBe(false);
    expect(follower.passes()).toBe(0);
    expect(follower.changes).toContainEqual({ state: "following", leader: leader === a ? "a" : "b" });
    leader.stop.abort();
    await leader.done;
    // Given up: the follower takes it at its next look, long before the lease would lapse.
    await waitFor(() => follower.election.leading, FAST.durationMs);
    expect(store.record?.holder).toBe(leader === a ? "b" : "a");
    expect(store.record?.transitions).toBe(1);
    follower.stop.abort();
    await follower.done;
    expect(store.record?.holder).toBe("");
  });

  it("takes a lease its holder stopped renewing once it has seen it unrenewed for its duration", async () => {
    const store = memoryLease();
    store.record = { holder: "dead", durationMs: FAST.durationMs, transitions: 4, renewedAt: "x", version: "9" };
    const b = replica("b", store);
    await waitFor(() => b.election.leading);
    // Measured from its own first sight of the lease, never from the holder's timestamps.
    expect((b.toldAt.get("leading") ?? 0) - (b.toldAt.get("following") ?? 0)).toBeGreaterThanOrEqual(FAST.durationMs);
    expect(store.record.transitions).toBe(5);
    b.stop.abort();
    await b.done;
  });

  it("stops leading when it cannot renew within its deadline, before another may take over", async () => {
    const store = memoryLease();
    const a = replica("a", store);
    await waitFor(() => a.election.leading);
    store.down = true;
    await waitFor(() => !a.election.leading);
    expect(a.changes).toContainEqual({
      state: "stopped-leading",
      identity: "a",
      reason: "the lease could not be renewed",
    });
    store.down = false;
    await waitFor(() => a.election.leading);
    a.stop.abort();
    await a.done;
  });

  it("stops leading at once when another holds the lease", async () => {
    const store = memoryLease();
    const a = replica("a", store);
    await waitFor(() => a.election.leading);
    store.record = { holder: "z", durationMs: 60_000, transitions: 9, renewedAt: "y", version: "100" };
    await waitFor(() => !a.election.leading);
    expect(a.changes).toContainEqual({ state: "stopped-leading", identity: "a", reason: "the lease is held by z" });
    expect(a.passes()).toBeGreaterThan(0);
    a.stop.abort();
    await a.done;
    // It gives up only a lease it holds.
    expect(store.record.holder).toBe("z");
  });

  it("refuses timings under which a leader could outlive its lease", () => {
    expect(() =>
      leaderElection({ identity: "a", store: memoryLease(), durationMs: 1000, renewDeadlineMs: 1000 }),
    ).toThrow(/retry < renew deadline < lease duration/);
  });
});
