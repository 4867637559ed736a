import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PoolExhaustedError } from "../../provider/errors.ts";
import { poolProvider } from "../../provider/resources/pool-provider.ts";
import { refillPools } from "../../provider/runtime/agent/pool-agent.ts";
import { listMembers, poolExists } from "../../provider/runtime/pools/pool.ts";
import { Sandbox } from "../../provider/client/sandbox.ts";
import { cleanupApp, docker, uniqueApp, warmMemberIds } from "../support/engine.ts";

const template = {
  image: "sandfleet/busybox",
  memoryMiB: 32,
  command: ["sh", "-c", "touch /tmp/ready; exec sleep infinity"],
  readiness: { exec: ["test", "-f", "/tmp/ready"], intervalMs: 50 },
};

async function checked(inputs: Record<string, unknown>) {
  const result = await poolProvider.check({}, inputs);
  expect(result.failures ?? []).toEqual([]);
  return result.inputs as Record<string, unknown>;
}

describe("a warm pool of 20 against a real engine", () => {
  const app = uniqueApp("pool");
  let outs: Record<string, unknown>;
  beforeAll(async () => {
    const created = await poolProvider.create(await checked({ app, name: "py", replicas: 20, template }));
    outs = created.outs as Record<string, unknown>;
  });
  afterAll(() => cleanupApp(app));

  it("is ready when create returns", () => {
    expect(outs.readyCount).toBe(20);
  });

  it("gives 50 concurrent claimers exactly 20 distinct sandboxes, and the rest a clear error", async () => {
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => Sandbox.claim(app, "py")));
    const won = results.filter((r) => r.status === "fulfilled").map((r) => r.value.id);
    const lost = results.filter((r) => r.status === "rejected").map((r) => r.reason as Error);
    expect(won).toHaveLength(20);
    expect(new Set(won).size).toBe(20);
    expect(lost).toHaveLength(30);
    for (const error of lost) {
      expect(error).toBeInstanceOf(PoolExhaustedError);
      expect(error.message).toBe(`pool "py" of app "${app}" is exhausted: no ready member to claim`);
    }
    // Claimed sandboxes left the pool and work.
    expect(await warmMemberIds(app, "py")).toEqual([]);
    const claimed = await Sandbox.fromId(won[0] ?? "");
    expect((await claimed.run(["echo", "mine"])).stdout).toBe("mine\n");
  });

  it("is refilled, and a claimer that asked to wait gets a member", async () => {
    const waiting = Sandbox.claim(app, "py", { waitMs: 60_000 });
    // This app's pools only: the engine is shared with other files, whose pools are theirs to fill
    // (an agent of every app tops up a pool another file has just claimed from: a member it never made).
    const events = await refillPools(docker, app);
    expect(events).toContainEqual({ action: "refilled", sandbox: `${app}/py`, detail: "+20 -0" });
    const sandbox = await waiting;
    expect((await sandbox.state()).running).toBe(true);
    expect(await warmMemberIds(app, "py")).toHaveLength(19);
    const read = await poolProvider.read(`${app}/py`, outs);
    expect(read.props).toMatchObject({ readyCount: 19 });
  });
});

describe("changing a pool", () => {
  const app = uniqueApp("pool");
  afterAll(() => cleanupApp(app));

  it("scales without touching the members it keeps", async () => {
    const inputs = await checked({ app, name: "web", replicas: 3, template });
    const created = await poolProvider.create(inputs);
    const three = await warmMemberIds(app, "web");
    expect(three).toHaveLength(3);

    const five = await checked({ ...inputs, replicas: 5 });
    expect(await poolProvider.diff(created.id, created.outs as Record<string, unknown>, five)).toEqual({
      changes: true,
      replaces: [],
    });
    await poolProvider.update(created.id, inputs, five);
    const afterFive = await warmMemberIds(app, "web");
    expect(afterFive).toHaveLength(5);
    expect(afterFive).toEqual(expect.arrayContaining(three));

    await poolProvider.update(created.id, five, await checked({ ...inputs, replicas: 2 }));
    const afterTwo = await warmMemberIds(app, "web");
    expect(afterTwo).toHaveLength(2);
    expect(afterFive).toEqual(expect.arrayContaining(afterTwo));
  });

  it("rolls a new template through, never below the old ready count", async () => {
    const inputs = await checked({ app, name: "roll", replicas: 3, template });
    const created = await poolProvider.create(inputs);
    const before = await warmMemberIds(app, "roll");
    const changed = await checked({ ...inputs, template: { ...template, memoryMiB: 48 } });
    expect(await poolProvider.diff(created.id, created.outs as Record<string, unknown>, changed)).toMatchObject({
      changes: true,
      replaces: [],
    });
    let lowest = Infinity;
    const watch = { rolling: true };
    const watcher = (async () => {
      while (watch.rolling) {
        lowest = Math.min(lowest, (await warmMemberIds(app, "roll")).length);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })();
    await poolProvider.update(created.id, inputs, changed);
    watch.rolling = false;
    await watcher;
    const after = await warmMemberIds(app, "roll");
    expect(after).toHaveLength(3);
    expect(after.filter((id) => before.includes(id))).toEqual([]);
    expect(lowest).toBeGreaterThanOrEqual(3);
    for (const id of after) expect((await docker.containers.inspect(id))?.memoryBytes).toBe(48 * 1024 * 1024);
  });

  it("deletes its members, claimed ones too, and its record", async () => {
    const inputs = await checked({ app, name: "gone", replicas: 2, template });
    const created = await poolProvider.create(inputs);
    const mine = await Sandbox.claim(app, "gone");
    await poolProvider.delete(created.id, created.outs as Record<string, unknown>);
    expect(await listMembers(docker, app, "gone")).toEqual([]);
    await expect(mine.state()).rejects.toThrow(/no longer exists/);
    expect(await poolProvider.read(created.id, created.outs as Record<string, unknown>)).toEqual({});
    await expect(Sandbox.claim(app, "gone")).rejects.toThrow(`app "${app}" has no pool "gone"`);
  });

  it("fails create naming the probe when members never get ready, and leaves no member", async () => {
    const inputs = await checked({
      app,
      name: "broken",
      replicas: 2,
      template: { ...template, readiness: { exec: ["false"], intervalMs: 50, timeoutMs: 500 } },
    });
    await expect(poolProvider.create(inputs)).rejects.toThrow(
      /\(exec \["false"\]\) not ready after 500 ms: exited with code 1/,
    );
    expect(await listMembers(docker, app, "broken")).toEqual([]);
    expect(await poolExists(docker, app, "broken")).toBe(false);
  });
});
