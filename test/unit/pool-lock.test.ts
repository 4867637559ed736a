import { describe, expect, it } from "vitest";
import { LABEL, ownershipLabels } from "../../provider/runtime/engine-state/labels.ts";
import { poolLockName, withPoolLock } from "../../provider/runtime/pools/pool-lock.ts";
import { MAKER_ELSEWHERE, MAKER_GONE, memoryFleet } from "../support/memory-fleet.ts";

const LOCK = { app: "demo", pool: "web", ttlMs: 60_000 };

/** A promise the test resolves when it likes. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

describe("a pool's lock", () => {
  it("lets exactly one of many makers at once work, and the rest in turn when they wait", async () => {
    const { clock, docker } = memoryFleet();
    let inside = 0;
    let most = 0;
    const order: number[] = [];
    const gates = Array.from({ length: 5 }, gate);
    const makers = gates.map((g, i) =>
      withPoolLock(docker, { ...LOCK, wait: true, clock }, async () => {
        most = Math.max(most, ++inside);
        order.push(i);
        await g.opened;
        inside--;
      }),
    );
    await clock.untilSleeping(4);
    expect(order).toHaveLength(1);
    for (let turn = 0; turn < 5; turn++) {
      gates[order[turn] ?? -1]?.open();
      await clock.advance(1000);
    }
    await Promise.all(makers);
    expect(most).toBe(1);
    expect(order.sort()).toEqual([0, 1, 2, 3, 4]);
    expect(await docker.records.inspect(poolLockName("demo", "web"))).toBeUndefined();
  });

  it("gives up at once, running nothing, when held and told not to wait", async () => {
    const { clock, docker } = memoryFleet();
    const held = gate();
    const holder = withPoolLock(docker, { ...LOCK, wait: true, clock }, () => held.opened);
    let ran = false;
    expect(await withPoolLock(docker, { ...LOCK, wait: false, clock }, async () => void (ran = true))).toBeUndefined();
    expect(ran).toBe(false);
    held.open();
    await holder;
  });

  it("is taken over from a maker on another host only once its time has run out", async () => {
    const { clock, docker } = memoryFleet();
    await docker.records.create({
      name: poolLockName("demo", "web"),
      labels: ownershipLabels("demo", "lock", {
        [LABEL.pool]: "web",
        [LABEL.maker]: `${MAKER_ELSEWHERE}:beef`,
        [LABEL.expiresAt]: String(clock.now() + 10_000),
      }),
    });
    const work = async () => "done";
    await clock.advance(10_000);
    expect(await withPoolLock(docker, { ...LOCK, wait: false, clock }, work)).toBeUndefined();
    await clock.advance(1);
    expect(await withPoolLock(docker, { ...LOCK, wait: false, clock }, work)).toEqual({ done: "done" });
  });

  it("is taken over at once from a maker of this host that has ended", async () => {
    const { clock, docker } = memoryFleet();
    await docker.records.create({
      name: poolLockName("demo", "web"),
      labels: ownershipLabels("demo", "lock", {
        [LABEL.pool]: "web",
        [LABEL.maker]: `${MAKER_GONE}:beef`,
        [LABEL.expiresAt]: String(clock.now() + 10_000),
      }),
    });
    expect(await withPoolLock(docker, { ...LOCK, wait: false, clock }, async () => 1)).toEqual({ done: 1 });
  });

  it("is released only by its holder: one that overran its time leaves its successor's lock alone", async () => {
    const { clock, docker } = memoryFleet();
    const slow = gate();
    const first = withPoolLock(docker, { ...LOCK, ttlMs: 1000, wait: true, clock }, () => slow.opened);
    await clock.advance(1001);
    const second = gate();
    let secondIn = false;
    const successor = withPoolLock(docker, { ...LOCK, wait: true, clock }, async () => {
      secondIn = true;
      await second.opened;
    });
    // The first lock's time has run out: it is taken over, though its holder is still at work.
    await clock.advance(0);
    expect(secondIn).toBe(true);
    slow.open();
    await first;
    const held = await docker.records.inspect(poolLockName("demo", "web"));
    expect(held).toBeDefined();
    second.open();
    await successor;
    expect(await docker.records.inspect(poolLockName("demo", "web"))).toBeUndefined();
  });
});
