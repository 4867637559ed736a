import { describe, expect, it } from "vitest";
import { InvalidArgumentError, PoolExhaustedError } from "../../provider/errors.ts";
import { claimMember, listMembers, reconcilePool, refreshWarmAhead } from "../../provider/runtime/pools/pool.ts";
import { WarmMembers } from "../../provider/runtime/pools/warm-members.ts";
import { memoryFleet, recordedPool } from "../support/memory-fleet.ts";
import { until } from "../support/until.ts";

// Claims on the in-memory engine: every interleaving of the claimers is one
// the Docker engine allows (each call yields), and nothing waits on real time.
describe("claims", () => {
  for (const [claimers, members] of [
    [10, 3],
    [3, 10],
    [25, 25],
    [1, 0],
  ] as const) {
    it(`of ${String(claimers)} claimers at once on ${String(members)} warm members: exactly ${String(Math.min(claimers, members))} win, each a member of its own`, async () => {
      const { clock, docker } = memoryFleet();
      const pool = await recordedPool(docker, { replicas: members });
      await reconcilePool(docker, pool, { clock });
      const outcomes = await Promise.allSettled(
        Array.from({ length: claimers }, () => claimMember(docker, pool.app, pool.name, { clock })),
      );
      const won = outcomes.flatMap((o) => (o.status === "fulfilled" ? [o.value] : []));
      const lost = outcomes.flatMap((o) => (o.status === "rejected" ? [o.reason as unknown] : []));
      expect(won).toHaveLength(Math.min(claimers, members));
      expect(new Set(won).size).toBe(won.length);
      expect(lost.every((e) => e instanceof PoolExhaustedError)).toBe(true);
      const claimed = (await listMembers(docker, pool.app, pool.name)).filter((m) => m.state === "claimed");
      expect(claimed.map((m) => m.id).sort()).toEqual([...won].sort());
    });
  }

  it("through one client's remembered listing, at once: each member goes to one claimer only", async () => {
    const { clock, docker } = memoryFleet();
    const pool = await recordedPool(docker, { replicas: 4 });
    await reconcilePool(docker, pool, { clock });
    const warm = new WarmMembers(clock);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 6 }, () => claimMember(docker, pool.app, pool.name, { clock }, warm)),
    );
    const won = outcomes.flatMap((o) => (o.status === "fulfilled" ? [o.value] : []));
    expect(new Set(won).size).toBe(4);
    expect(outcomes.filter((o) => o.status === "rejected")).toHaveLength(2);
  });

  it("of 40 claimers of one client on 10 members: one listing shared, each member tried once, 10 win and 30 find it exhausted", async () => {
    const { clock, docker } = memoryFleet();
    const pool = await recordedPool(docker, { replicas: 10 });
    await reconcilePool(docker, pool, { clock });
    const warm = new WarmMembers(clock);
    const listsBefore = docker.calls.get("containers.list") ?? 0;
    const renamesBefore = docker.calls.get("containers.rename") ?? 0;
    const outcomes = await Promise.allSettled(
      Array.from({ length: 40 }, () => claimMember(docker, pool.app, pool.name, { clock }, warm)),
    );
    const won = outcomes.flatMap((o) => (o.status === "fulfilled" ? [o.value] : []));
    const lost = outcomes.flatMap((o) => (o.status === "rejected" ? [o.reason as unknown] : []));
    expect(new Set(won).size).toBe(10);
    expect(lost).toHaveLength(30);
    expect(lost.every((e) => e instanceof PoolExhaustedError)).toBe(true);
    expect((docker.calls.get("containers.list") ?? 0) - listsBefore).toBe(1);
    expect((docker.calls.get("containers.rename") ?? 0) - renamesBefore).toBe(10);
  });

  it("from a listing in hand costs one conditioned rename: no listing, no read", async () => {
    const { clock, docker } = memoryFleet();
    const pool = await recordedPool(docker, { replicas: 3 });
    await reconcilePool(docker, pool, { clock });
    const warm = new WarmMembers(clock);
    await claimMember(docker, pool.app, pool.name, { clock }, warm);
    const before = new Map(docker.calls);
    await claimMember(docker, pool.app, pool.name, { clock }, warm);
    // The claim record (a volume here) is written after the claim, off its path: only the sandboxes' calls count.
    const made = [...docker.calls].filter(
      ([call, n]) => n !== (before.get(call) ?? 0) && call.startsWith("containers."),
    );
    expect(made).toEqual([["containers.rename", (before.get("containers.rename") ?? 0) + 1]]);
  });

  it("never takes a member whose name changed after it was listed (the rename is conditioned on the listed name)", async () => {
    const { clock, docker } = memoryFleet();
    const pool = await recordedPool(docker, { replicas: 1 });
    await reconcilePool(docker, pool, { clock });
    const warm = new WarmMembers(clock);
    const [member] = await listMembers(docker, pool.app, pool.name);
    warm.remember(pool.app, pool.name, member ? [member] : []);
    // Back to pending behind the client's back (a maker's, say): no longer claimable, under another name.
    await docker.containers.rename(member?.id ?? "", (member?.containerName ?? "").replace(/-w-/, "-p-"));
    await expect(claimMember(docker, pool.app, pool.name, { clock }, warm)).rejects.toBeInstanceOf(PoolExhaustedError);
  });

  it("from a remembered listing gone stale (its members claimed elsewhere), lists afresh and takes the refill", async () => {
    const { clock, docker } = memoryFleet();
    const pool = await recordedPool(docker, { replicas: 2 });
    await reconcilePool(docker, pool, { clock });
    const warm = new WarmMembers(clock);
    const listed = await listMembers(docker, pool.app, pool.name);
    warm.remember(pool.app, pool.name, listed);
    // Another client takes both; the pool is refilled behind it.
    await claimMember(docker, pool.app, pool.name, { clock });
    await claimMember(docker, pool.app, pool.name, { clock });
    await reconcilePool(docker, pool, { clock });
    const refilled = (await listMembers(docker, pool.app, pool.name)).filter((m) => m.state === "warm");

    const listsBefore = docker.calls.get("containers.list") ?? 0;
    const id = await claimMember(docker, pool.app, pool.name, { clock }, warm);
    expect(refilled.map((m) => m.id)).toContain(id);
    // Both remembered members were tried (and found taken) before one listing afresh.
    expect((docker.calls.get("containers.list") ?? 0) - listsBefore).toBe(1);
  });

  it("does not use a remembered listing older than five seconds", async () => {
    const { clock, docker } = memoryFleet();
    const pool = await recordedPool(docker, { replicas: 1 });
    await reconcilePool(docker, pool, { clock });
    const warm = new WarmMembers(clock);
    warm.remember(pool.app, pool.name, await listMembers(docker, pool.app, pool.name));
    await clock.advance(5001);
    const renamesBefore = docker.calls.get("containers.rename") ?? 0;
    const listsBefore = docker.calls.get("containers.list") ?? 0;
    await claimMember(docker, pool.app, pool.name, { clock }, warm);
    expect((docker.calls.get("containers.list") ?? 0) - listsBefore).toBe(1);
    expect((docker.calls.get("containers.rename") ?? 0) - renamesBefore).toBe(1);
  });

  it("lists again in the background once the remembered listing is past half its freshness: claimers who keep coming never wait for a listing", async () => {
    const { clock, docker } = memoryFleet();
    const pool = await recordedPool(docker, { replicas: 4 });
    await reconcilePool(docker, pool, { clock });
    const warm = new WarmMembers(clock);
    const lists = () => docker.calls.get("containers.list") ?? 0;
    await claimMember(docker, pool.app, pool.name, { clock }, warm); // lists: nothing remembered yet
    await clock.advance(3000);
    const before = lists();
    await claimMember(docker, pool.app, pool.name, { clock }, warm);
    expect(lists() - before).toBe(0); // the claim took a remembered member, listing nothing on its path
    refreshWarmAhead(docker, pool.app, pool.name, warm);
    refreshWarmAhead(docker, pool.app, pool.name, warm); // one listing at a time
    await until("the listing in the background", async () => lists() - before === 1, 5000);
    await clock.advance(4000); // the first listing would be stale by now; the one made in the background is not
    const third = await claimMember(docker, pool.app, pool.name, { clock }, warm);
    expect(lists() - before).toBe(1);
    const claimed = (await listMembers(docker, pool.app, pool.name)).filter((m) => m.state === "claimed");
    expect(claimed.map((m) => m.id)).toContain(third);
    expect(new Set(claimed.map((m) => m.id)).size).toBe(3);
  });

  it("with waitMs, waits on the clock for a refill and takes it; without one by then, finds the pool exhausted", async () => {
    const { clock, docker } = memoryFleet();
    const pool = await recordedPool(docker, { replicas: 1 });
    const startedMs = clock.now();
    let settled = false;
    const claim = claimMember(docker, pool.app, pool.name, { clock, waitMs: 1000 }).finally(() => (settled = true));
    await clock.untilSleeping();
    await clock.advance(400);
    expect(settled).toBe(false);
    await reconcilePool(docker, pool, { clock });
    const [member] = await listMembers(docker, pool.app, pool.name);
    await clock.advance(50);
    expect(await claim).toBe(member?.id);
    expect(clock.now() - startedMs).toBe(450); // it waited as long as the test said, not a moment of real time

    const late = claimMember(docker, pool.app, pool.name, { clock, waitMs: 1000 });
    const failed = expect(late).rejects.toBeInstanceOf(PoolExhaustedError);
    await clock.untilSleeping();
    await clock.advance(1000);
    await failed;
  });

  it("of a pool that was never declared says so, not that it is exhausted", async () => {
    const { clock, docker } = memoryFleet();
    await expect(claimMember(docker, "demo", "nope", { clock })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
