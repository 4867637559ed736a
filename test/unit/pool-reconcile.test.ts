import { describe, expect, it } from "vitest";
import { LABEL } from "../../provider/runtime/engine-state/labels.ts";
import {
  listMembers,
  memberName,
  reconcilePool,
  templateHash,
  type PoolParams,
} from "../../provider/runtime/pools/pool.ts";
import { createSandbox } from "../../provider/runtime/sandboxes/sandbox-ops.ts";
import type { MemoryEngine } from "../support/memory-engine.ts";
import { MAKER_ELSEWHERE, MAKER_GONE, memoryFleet, recordedPool } from "../support/memory-fleet.ts";

/** The pool's warm members, oldest first. */
async function warmIds(docker: MemoryEngine, pool: PoolParams): Promise<string[]> {
  const members = await listMembers(docker, pool.app, pool.name);
  return members
    .filter((m) => m.state === "warm")
    .sort((a, b) => a.createdMs - b.createdMs)
    .map((m) => m.id);
}

/** A member another maker (named by its maker label) began and has not finished: pending, made now. */
async function pendingMember(docker: MemoryEngine, pool: PoolParams, maker: string): Promise<string> {
  const state = await createSandbox(
    docker,
    { ...pool.template, app: pool.app, name: `${pool.name}-p-abcd` },
    {
      owner: "pulumi",
      extraLabels: { [LABEL.pool]: pool.name, [LABEL.template]: templateHash(pool.template), [LABEL.maker]: maker },
      dockerName: memberName(pool.app, pool.name, "p", "abcd"),
      warm: true,
    },
  );
  return state.id;
}

/** How few of the pool's members were up at any moment, from the engine's own record of starts and removals. */
async function fewestUp(docker: MemoryEngine, pool: PoolParams, sinceMs: number): Promise<number> {
  const events = await docker.events.containerEvents({
    sinceMs,
    untilMs: docker.clock.now(),
    actions: ["start", "destroy"],
    labels: { [LABEL.app]: pool.app, [LABEL.pool]: pool.name },
  });
  let up = pool.replicas;
  let fewest = up;
  for (const event of events) {
    up += event.action === "start" ? 1 : -1;
    fewest = Math.min(fewest, up);
  }
  return fewest;
}

describe("a pool's reconcile", () => {
  it("fills an empty pool, and then has nothing to do", async () => {
    const { clock, docker } = memoryFleet();
    const pool = await recordedPool(docker, { replicas: 3 });
    expect(await reconcilePool(docker, pool, { clock })).toEqual({ added: 3, removed: 0, lost: [], busy: false });
    expect(await reconcilePool(docker, pool, { clock })).toEqual({ added: 0, removed: 0, lost: [], busy: false });
    expect(await warmIds(docker, pool)).toHaveLength(3);
  });

  it("removes dead members (exited, with any code) and replaces them; a paused one is alive", async () => {
    const { clock, docker } = memoryFleet();
    const pool = await recordedPool(docker, { replicas: 3 });
    await reconcilePool(docker, pool, { clock });
    const [crashed, ended, paused] = await warmIds(docker, pool);
    docker.exit(crashed ?? "", 139);
    docker.exit(ended ?? "", 0);
    await docker.containers.pause(paused ?? "");
    expect(await reconcilePool(docker, pool, { clock })).toEqual({ added: 2, removed: 2, lost: [], busy: false });
    const now = await warmIds(docker, pool);
    expect(now).toHaveLength(3);
    expect(now).toContain(paused);
    expect(now).not.toContain(crashed);
    expect(await docker.containers.inspect(ended ?? "")).toBeUndefined();
  });

  it("trims too many members newest first: the longest warm stay", async () => {
    const { clock, docker } = memoryFleet();
    const pool = await recordedPool(docker, { replicas: 1 });
    await reconcilePool(docker, pool, { clock });
    for (const replicas of [2, 3]) {
      await clock.advance(2000);
      await reconcilePool(docker, { ...pool, replicas }, { clock });
    }
    const [oldest, middle] = await warmIds(docker, pool);
    expect(await reconcilePool(docker, { ...pool, replicas: 2 }, { clock })).toEqual({
      added: 0,
      removed: 1,
      lost: [],
      busy: false,
    });
    expect(await warmIds(docker, pool)).toEqual([oldest, middle]);
  });

  it("rolls a template change one member at a time: never fewer members up than its replicas", async () => {
    const { clock, docker } = memoryFleet();
    const pool = await recordedPool(docker, { replicas: 3 });
    await reconcilePool(docker, pool, { clock });
    const before = await warmIds(docker, pool);
    await clock.advance(1000);
    const changed = { ...pool, template: { ...pool.template, env: { VERSION: "2" } } };
    expect(await reconcilePool(docker, changed, { clock })).toEqual({ added: 3, removed: 3, lost: [], busy: false });
    const after = await listMembers(docker, pool.app, pool.name);
    expect(after.map((m) => m.templateHash)).toEqual(Array(3).fill(templateHash(changed.template)));
    expect(after.some((m) => before.includes(m.id))).toBe(false);
    expect(await fewestUp(docker, pool, clock.now())).toBe(3);
  });

  it("replaces every member at once on a template change with rollout all-at-once", async () => {
    const { clock, docker } = memoryFleet();
    const pool = await recordedPool(docker, { replicas: 3, rollout: "all-at-once" });
    await reconcilePool(docker, pool, { clock });
    await clock.advance(1000);
    const changed = { ...pool, template: { ...pool.template, env: { VERSION: "2" } } };
    expect(await reconcilePool(docker, changed, { clock })).toEqual({ added: 3, removed: 3, lost: [], busy: false });
    expect(await fewestUp(docker, pool, clock.now())).toBe(0);
  });

  it("leaves a member another maker is still making, until it is abandoned: pending past its probe's time and a grace", async () => {
    const { clock, docker } = memoryFleet();
    const pool = await recordedPool(docker, {
      replicas: 1,
      template: { readiness: { exec: ["ready"], timeoutMs: 10_000 } },
    });
    const pending = await pendingMember(docker, pool, MAKER_ELSEWHERE);
    await clock.advance(10_000 + 30_000);
    expect(await reconcilePool(docker, pool, { clock })).toEqual({ added: 0, removed: 0, lost: [], busy: false });
    await clock.advance(1);
    docker.onExec(({ argv }) => (argv[0] === "ready" ? { exitCode: 0 } : undefined));
    expect(await reconcilePool(docker, pool, { clock })).toEqual({ added: 1, removed: 1, lost: [], busy: false });
    expect(await docker.containers.inspect(pending)).toBeUndefined();
  });

  it("takes a pending member of a maker of this host that has ended as abandoned at once", async () => {
    const { clock, docker } = memoryFleet();
    const pool = await recordedPool(docker, { replicas: 1 });
    const pending = await pendingMember(docker, pool, MAKER_GONE);
    expect(await reconcilePool(docker, pool, { clock })).toEqual({ added: 1, removed: 1, lost: [], busy: false });
    expect(await docker.containers.inspect(pending)).toBeUndefined();
  });

  it("waits on the clock for a member's readiness probe, and removes a member that never gets ready", async () => {
    const { clock, docker } = memoryFleet();
    let ready = false;
    docker.onExec(({ argv }) => (argv[0] === "ready" ? { exitCode: ready ? 0 : 1, stderr: "not yet" } : undefined));
    const pool = await recordedPool(docker, {
      replicas: 1,
      template: { readiness: { exec: ["ready"], intervalMs: 100, timeoutMs: 1000 } },
    });
    const filling = reconcilePool(docker, pool, { clock });
    await clock.untilSleeping();
    await clock.advance(300);
    ready = true;
    await clock.advance(100);
    expect(await filling).toEqual({ added: 1, removed: 0, lost: [], busy: false });

    ready = false;
    const [member] = await warmIds(docker, pool);
    docker.exit(member ?? "", 1);
    const failing = reconcilePool(docker, pool, { clock });
    const failed = expect(failing).rejects.toThrow(/not ready after 1000 ms: exited with code 1: not yet/);
    await clock.untilSleeping();
    await clock.advance(1000);
    await failed;
    expect(await listMembers(docker, pool.app, pool.name)).toEqual([]);
  });
});
