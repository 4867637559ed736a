// What only a current Docker Engine does, on the one the bootstrap runs beside
// the main engine (Docker 29, experimental, with CRIU): run by the
// current-engine project, whose DOCKER_HOST points there (vitest.config.ts).
import { afterAll, describe, expect, it } from "vitest";
import { Sandfleet } from "../../provider/index.ts";
import { cleanupApp, docker, uniqueApp } from "../support/engine.ts";
import { until } from "../support/until.ts";

const app = uniqueApp("current");
const sandfleet = new Sandfleet();

afterAll(() => cleanupApp(app));

// One GiB, each page written with its own value, then a counter: every 50 ms the
// count and a sum over every page of the GiB, written aside and moved into place.
const HOLDER = `
import os, time
size = 1 << 30
memory = bytearray(size)
for page in range(size // 4096):
    memory[page * 4096] = page % 251 + 1
count = 0
while True:
    count += 1
    with open("/tmp/count.new", "w") as f:
        f.write("%d %d" % (count, sum(memory[::4096])))
    os.replace("/tmp/count.new", "/tmp/count")
    time.sleep(0.05)
`;
const EXPECTED_SUM = Array.from({ length: (1 << 30) / 4096 }, (_, page) => (page % 251) + 1).reduce((a, b) => a + b, 0);

describe("the current Docker Engine", () => {
  it("says it can mount part of a volume and checkpoint, from what it said of itself", async () => {
    const info = await docker.info();
    expect(docker.host).toMatch(/sandfleet-current/);
    expect(info.capabilities.subPathMounts).toEqual({ supported: true });
    expect(info.capabilities.checkpoint).toEqual({ supported: true });
    expect(info.capabilities.diskBound).toEqual({ supported: true });
  });

  it("mounts one folder of a volume (subPath): the sandbox sees that folder, nothing beside it", async () => {
    const volume = await sandfleet.volumes.fromName(app, "parts", { createIfMissing: true });
    {
      await using writer = await sandfleet.sandboxes.create({
        app,
        image: "sandfleet/busybox",
        volumes: [volume.mount("/data")],
      });
      const wrote = await writer.run([
        "sh",
        "-c",
        "mkdir -p /data/part/one && echo inside > /data/part/one/kept && echo beside > /data/top",
      ]);
      expect(wrote.exitCode).toBe(0);
    }
    await using reader = await sandfleet.sandboxes.create({
      app,
      image: "sandfleet/busybox",
      volumes: [volume.mount("/mnt/part", { subPath: "part/one" })],
    });
    expect((await reader.run(["cat", "/mnt/part/kept"])).stdout).toBe("inside\n");
    expect((await reader.run(["ls", "-A", "/mnt/part"])).stdout).toBe("kept\n");
    // The file beside the folder is nowhere in the sandbox.
    expect((await reader.run(["grep", "-rl", "beside", "/mnt"])).exitCode).toBe(1);
  });

  it("checkpoints a sandbox holding 1 GiB to disk, stopped, and restores it: the counter goes on, the GiB intact", async () => {
    await using sandbox = await sandfleet.sandboxes.create({ app, image: "sandfleet/python", memoryMiB: 1536 });
    // Detached from the exec, so that no connection of this process is open into the sandbox.
    const started = await sandbox.run(["sh", "-c", `python3 -c '${HOLDER}' >/dev/null 2>&1 </dev/null &`]);
    expect(started.exitCode).toBe(0);
    const reading = async () => {
      const out = (await sandbox.run(["cat", "/tmp/count"])).stdout.trim().split(" ").map(Number);
      return { count: out[0] ?? 0, sum: out[1] ?? 0 };
    };
    await until("the GiB written and counting", async () => (await reading().catch(() => ({ count: 0 }))).count > 3);
    const before = await reading();
    expect(before.sum).toBe(EXPECTED_SUM);
    expect((await sandbox.metrics()).memoryBytes).toBeGreaterThan(1 << 30);

    const result = await sandbox.pause({ checkpoint: true });
    expect(result).toEqual({ mode: "checkpoint" });
    // Removed from memory: the container is stopped, its checkpoint kept on the engine's disk.
    const stopped = await docker.containers.inspect(sandbox.id);
    expect(stopped?.status).not.toBe("running");
    expect(stopped?.status).not.toBe("paused");
    expect(await docker.containers.checkpoints(sandbox.id)).toEqual([expect.stringMatching(/^sandfleet-/)]);

    await sandbox.resume();
    expect((await sandbox.state()).status).toBe("running");
    const after = await reading();
    // The same process, from where it was: neither started again (count 1) nor lost its memory.
    expect(after.count).toBeGreaterThanOrEqual(before.count);
    expect(after.sum).toBe(EXPECTED_SUM);
    await until("the counter going on", async () => (await reading()).count > after.count);
    expect(await docker.containers.checkpoints(sandbox.id)).toEqual([]);
  });

  it("does not checkpoint a sandbox on a network, which the engine could not restore: says so and uses the freezer", async () => {
    await sandfleet.apps.lookup(app, { createIfMissing: true });
    await using sandbox = await sandfleet.sandboxes.create({ app, image: "sandfleet/busybox", network: "app" });
    const result = await sandbox.pause({ checkpoint: true });
    expect(result).toEqual({
      mode: "freezer",
      checkpointError: expect.stringMatching(
        /cannot restore a sandbox on a network .*paused with the freezer instead/,
      ) as unknown,
    });
    expect(await docker.containers.checkpoints(sandbox.id)).toEqual([]);
    expect((await sandbox.state()).status).toBe("paused");
    expect((await sandbox.run(["true"])).exitCode).toBe(0);
  });

  it("restores a checkpointed sandbox by itself on the next exec, as a paused one thaws, and no garbage collection takes it meanwhile", async () => {
    await using sandbox = await sandfleet.sandboxes.create({ app, image: "sandfleet/busybox" });
    // Its events: paused and resumed, as for the freezer; never ended, never ready again.
    const watch = new AbortController();
    const told: string[] = [];
    const watching = (async () => {
      for await (const e of sandfleet.events({ app, signal: watch.signal, sinceMs: Date.now() - 1000 }))
        if (e.id === sandbox.id) told.push(e.kind);
    })().catch(() => undefined);
    await sandbox.run([
      "sh",
      "-c",
      "(i=0; while :; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done) >/dev/null 2>&1 &",
    ]);
    await until("counting", async () => Number((await sandbox.run(["cat", "/tmp/n"])).stdout) > 3);
    expect(await sandbox.pause({ checkpoint: true })).toEqual({ mode: "checkpoint" });
    expect((await docker.containers.inspect(sandbox.id))?.status).not.toBe("running");
    // Stopped, but paused: `sandfleet gc` (and the agent's) leaves it and its checkpoint for the resume.
    expect((await sandfleet.gc({ app })).containers.map((c) => c.id)).not.toContain(sandbox.id);
    expect(await docker.containers.inspect(sandbox.id)).toBeDefined();
    const n = Number((await sandbox.run(["cat", "/tmp/n"])).stdout);
    expect(n).toBeGreaterThan(3);
    expect((await sandbox.state()).status).toBe("running");
    await until("the resume told", async () => Promise.resolve(told.includes("resumed")));
    watch.abort();
    await watching;
    expect(told.filter((kind) => kind !== "created" && kind !== "ready")).toEqual(["paused", "resumed"]);
  });
});
