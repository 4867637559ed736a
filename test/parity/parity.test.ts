// One suite of runtime and provider behaviours, run against every backend:
// the local Docker engine and a real Kubernetes cluster the harness starts.
import { afterAll, describe, expect, it } from "vitest";
import { Sandfleet } from "../../provider/client/sandfleet.ts";
import { PoolExhaustedError } from "../../provider/errors.ts";
import { poolProvider } from "../../provider/resources/pool-provider.ts";
import { sandboxProvider } from "../../provider/resources/sandbox-provider.ts";
import { refillPools } from "../../provider/runtime/agent/pool-agent.ts";
import { listMembers } from "../../provider/runtime/pools/pool.ts";
import { BACKENDS, backendLeftovers, cleanupBackend } from "../support/backends.ts";
import { uniqueApp } from "../support/engine.ts";

const template = {
  image: "sandfleet/busybox",
  memoryMiB: 32,
  command: ["sh", "-c", "touch /tmp/ready; exec sleep infinity"],
  readiness: { exec: ["test", "-f", "/tmp/ready"], intervalMs: 50 },
};

describe.each(BACKENDS)("on $name", ({ name, target, engine }) => {
  const app = uniqueApp(`parity-${name.slice(0, 4)}`);
  const sandfleet = new Sandfleet(target);
  afterAll(() => cleanupBackend(engine, app));

  const warmIds = async (pool: string) =>
    (await listMembers(engine, app, pool))
      .filter((m) => m.state === "warm")
      .map((m) => m.id)
      .sort();
  const checked = async (inputs: Record<string, unknown>) => {
    const result = await poolProvider.check({}, { ...inputs, ...target });
    expect(result.failures ?? []).toEqual([]);
    return result.inputs as Record<string, unknown>;
  };

  it("creates a sandbox that gets ready, runs commands with their streams and exit codes, and keeps files", async () => {
    await using sandbox = await sandfleet.sandboxes.create({
      app,
      image: "sandfleet/busybox",
      command: ["sh", "-c", "sleep 0.3; touch /tmp/ready; exec sleep infinity"],
      readiness: { exec: ["test", "-f", "/tmp/ready"], intervalMs: 50 },
      memoryMiB: 64,
    });
    await sandbox.waitUntilReady();
    expect((await sandbox.state()).running).toBe(true);
    const result = await sandbox.run(["sh", "-c", "echo out; echo err >&2; exit 3"]);
    expect(result).toMatchObject({ exitCode: 3, stdout: "out\n", stderr: "err\n" });
    await sandbox.files.write("/tmp/notes/a.txt", "written here");
    expect((await sandbox.files.read("/tmp/notes/a.txt")).toString()).toBe("written here");
    expect((await sandbox.run(["cat", "/tmp/notes/a.txt"])).stdout).toBe("written here");
  });

  it("ends a sandbox at its timeout with exit code 124, and a terminated one with 137", async () => {
    const timed = await sandfleet.sandboxes.create({ app, image: "sandfleet/busybox", timeoutMs: 2000 });
    const killed = await sandfleet.sandboxes.create({ app, image: "sandfleet/busybox" });
    await killed.terminate();
    expect(await timed.wait()).toBe(124);
    expect((await killed.state()).exitCode).toBe(137);
    expect((await timed.state()).exitCode).toBe(124);
  });

  it("gives 50 concurrent claimers of a pool of 20 exactly 20 distinct sandboxes, refills it, and rolls a template", async () => {
    const inputs = await checked({ app, name: "warm", replicas: 20, template });
    const created = await poolProvider.create(inputs);
    expect((created.outs as Record<string, unknown>).readyCount).toBe(20);
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => sandfleet.sandboxes.claim(app, "warm")));
    const won = results.filter((r) => r.status === "fulfilled").map((r) => r.value);
    const lost = results.filter((r) => r.status === "rejected").map((r) => r.reason as Error);
    expect(won).toHaveLength(20);
    expect(new Set(won.map((s) => s.id)).size).toBe(20);
    expect(lost).toHaveLength(30);
    for (const error of lost) expect(error).toBeInstanceOf(PoolExhaustedError);
    expect((await won[0]?.run(["echo", "mine"]))?.stdout).toBe("mine\n");
    await Promise.all(won.map((s) => s.terminate()));

    // The agent's refill makes the pool whole again.
    const events = await refillPools(engine, app);
    expect(events).toContainEqual({ action: "refilled", sandbox: `${app}/warm`, detail: "+20 -0" });
    expect(await warmIds("warm")).toHaveLength(20);

    // A template change rolls through: new members, never fewer ready than before.
    const small = await checked({ app, name: "roll", replicas: 2, template });
    const rolled = await poolProvider.create(small);
    const before = await warmIds("roll");
    const changed = await checked({ ...small, template: { ...template, memoryMiB: 48 } });
    let lowest = Infinity;
    const watch = { rolling: true };
    const watcher = (async () => {
      while (watch.rolling) {
        lowest = Math.min(lowest, (await warmIds("roll")).length);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })();
    await poolProvider.update(rolled.id, small, changed);
    watch.rolling = false;
    await watcher;
    const after = await warmIds("roll");
    expect(after).toHaveLength(2);
    expect(after.filter((id) => before.includes(id))).toEqual([]);
    expect(lowest).toBeGreaterThanOrEqual(2);
    for (const id of after) expect((await engine.containers.inspect(id))?.memoryBytes).toBe(48 * 1024 * 1024);
    await poolProvider.delete(created.id, created.outs as Record<string, unknown>);
    await poolProvider.delete(rolled.id, small);
    expect(await listMembers(engine, app, "warm")).toEqual([]);
  });

  it("gives 40 claimers, each a client of its own, exactly 10 members of a pool of 10; the other 30 hear it is exhausted", async () => {
    const inputs = await checked({ app, name: "race", replicas: 10, template });
    const created = await poolProvider.create(inputs);
    // Separate clients share no listing: every member is raced for, and the engine's one conditioned write decides.
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, () => new Sandfleet(target).sandboxes.claim(app, "race")),
    );
    const won = results.filter((r) => r.status === "fulfilled").map((r) => r.value);
    const lost = results.filter((r) => r.status === "rejected").map((r) => r.reason as Error);
    const told = [...new Set(lost.map((e) => e.message))].join("; ");
    expect(new Set(won.map((s) => s.id)).size, told).toBe(10);
    expect(won).toHaveLength(10);
    expect(lost).toHaveLength(30);
    for (const error of lost) {
      expect(error).toBeInstanceOf(PoolExhaustedError);
      expect(error.message).toBe(`pool "race" of app "${app}" is exhausted: no ready member to claim`);
    }
    const claimed = (await listMembers(engine, app, "race")).filter((m) => m.state === "claimed");
    expect(claimed.map((m) => m.id).sort()).toEqual(won.map((s) => s.id).sort());
    await poolProvider.delete(created.id, created.outs as Record<string, unknown>);
  });

  it("sees a sandbox removed behind its back as gone on refresh, and destroy leaves nothing", async () => {
    const providerApp = `${app}-p`;
    const checkedInputs = await sandboxProvider.check(
      {},
      { app: providerApp, name: "box", image: "sandfleet/busybox", memoryMiB: 32, ...target },
    );
    expect(checkedInputs.failures ?? []).toEqual([]);
    const inputs = checkedInputs.inputs as Record<string, unknown>;
    const created = await sandboxProvider.create(inputs);
    const outs = created.outs as Record<string, unknown>;
    expect((await sandboxProvider.read(created.id, outs)).props).toMatchObject({ status: "running" });
    await engine.containers.remove(created.id);
    expect(await sandboxProvider.read(created.id, outs)).toEqual({});

    const again = await sandboxProvider.create(inputs);
    await sandboxProvider.delete(again.id, again.outs as Record<string, unknown>);
    expect(await backendLeftovers(engine, providerApp)).toEqual([]);
  });
});
