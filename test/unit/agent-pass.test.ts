import { describe, expect, it } from "vitest";
import { Agent } from "../../provider/runtime/agent/agent.ts";
import { claimMember, listMembers, reconcilePool } from "../../provider/runtime/pools/pool.ts";
import { poolReconcilers } from "../../provider/runtime/agent/pool-agent.ts";
import { createSandbox } from "../../provider/runtime/sandboxes/sandbox-ops.ts";
import { withPoolLock } from "../../provider/runtime/pools/pool-lock.ts";
import { MEMORY_TEMPLATE, memoryFleet, recordedPool } from "../support/memory-fleet.ts";

describe("one pass of the agent", () => {
  it("refills a pool after claims and a death, and says what it did", async () => {
    const { clock, docker } = memoryFleet();
    const pool = await recordedPool(docker, { replicas: 3 });
    await reconcilePool(docker, pool, { clock });
    await claimMember(docker, pool.app, pool.name, { clock });
    await claimMember(docker, pool.app, pool.name, { clock });
    const [survivor] = (await listMembers(docker, pool.app, pool.name)).filter((m) => m.state === "warm");
    docker.exit(survivor?.id ?? "", 1);
    const told: unknown[] = [];
    const agent = new Agent({
      docker,
      clock,
      reconcilers: poolReconcilers(undefined, clock),
      onEvent: (event) => told.push(event),
    });

    const events = await agent.reconcileOnce();
    expect(events).toEqual([{ action: "refilled", sandbox: "demo/web", detail: "+3 -1" }]);
    expect(told).toEqual(events);
    const members = await listMembers(docker, pool.app, pool.name);
    expect(members.filter((m) => m.state === "warm" && m.running)).toHaveLength(3);
    expect(members.filter((m) => m.state === "claimed")).toHaveLength(2);
    expect(await agent.reconcileOnce()).toEqual([]);
  });

  it("ends what is due and refills what that leaves short, in one pass", async () => {
    const { clock, docker } = memoryFleet();
    const pool = await recordedPool(docker, { replicas: 1, template: { timeoutMs: 10_000 } });
    await reconcilePool(docker, pool, { clock });
    const claimed = await claimMember(docker, pool.app, pool.name, { clock });
    const name = (await docker.containers.inspect(claimed))?.name;
    const agent = new Agent({ docker, clock, reconcilers: poolReconcilers(undefined, clock) });
    expect(await agent.reconcileOnce()).toEqual([{ action: "refilled", sandbox: "demo/web", detail: "+1 -0" }]);
    await clock.advance(10_000);
    expect(await agent.reconcileOnce()).toEqual([{ action: "ended", sandbox: name, reason: "timeout" }]);
  });

  it("leaves a pool another maker holds to it, and says nothing of it", async () => {
    const { clock, docker } = memoryFleet();
    const pool = await recordedPool(docker, { replicas: 2 });
    await reconcilePool(docker, pool, { clock });
    // An `up` holds the pool's lock while the agent passes.
    let release: () => void = () => undefined;
    const held = withPoolLock(docker, { app: "demo", pool: "web", ttlMs: 60_000, wait: true, clock }, async () => {
      await new Promise<void>((resolve) => (release = resolve));
    });
    const [member] = await listMembers(docker, pool.app, pool.name);
    docker.exit(member?.id ?? "", 1);
    const agent = new Agent({ docker, clock, reconcilers: poolReconcilers(undefined, clock) });
    expect(await agent.reconcileOnce()).toEqual([]);
    release();
    await held;
    expect(await agent.reconcileOnce()).toEqual([{ action: "refilled", sandbox: "demo/web", detail: "+1 -1" }]);
  });

  it("remembers the execs it saw though the engine's buffer has since dropped them: ends an idle sandbox on time, neither early nor never", async () => {
    const { clock, docker } = memoryFleet({ exec: () => ({ exitCode: 0 }) });
    // Ten pools: each pass takes each one's lock, 20 events a pass, so the engine's 256 last about 13 passes.
    for (let i = 0; i < 10; i++) await recordedPool(docker, { name: `p${String(i)}`, replicas: 1 });
    const { id } = await createSandbox(docker, { ...MEMORY_TEMPLATE, app: "demo", idleTimeoutMs: 60_000 });
    const agent = new Agent({ docker, clock, reconcilers: poolReconcilers(undefined, clock) });
    const endedAt: number[] = [];
    for (let second = 0; second <= 120; second++) {
      if (second === 30) await docker.exec.run(id, { argv: ["python3", "job.py"] });
      const events = await agent.reconcileOnce();
      if (events.some((e) => e.action === "ended")) endedAt.push(second);
      await clock.advance(1000);
    }
    expect(endedAt).toEqual([90]);
  });

  it("runs a pass every interval of its clock, and stops when told", async () => {
    const { clock, docker } = memoryFleet();
    const passes: number[] = [];
    const agent = new Agent({
      docker,
      clock,
      intervalMs: 1000,
      reconcilers: [
        (_docker, nowMs) => {
          passes.push(nowMs);
          return Promise.resolve([]);
        },
      ],
    });
    const stop = new AbortController();
    const running = agent.run(stop.signal);
    await clock.untilSleeping();
    const startMs = clock.now();
    await clock.advance(999);
    expect(passes).toEqual([startMs]);
    await clock.advance(2001);
    expect(passes).toEqual([startMs, startMs + 1000, startMs + 2000, startMs + 3000]);
    stop.abort();
    await running;
  });
});
