import { afterAll, describe, expect, it } from "vitest";
import { connect } from "node:net";
import { Sandfleet } from "../../provider/client/sandfleet.ts";
import { Agent } from "../../provider/runtime/agent/agent.ts";
import type { AgentEvent } from "../../provider/runtime/observability/agent-event.ts";
import { Sandbox } from "../../provider/client/sandbox.ts";
import { sandfleet } from "../support/cli.ts";
import { cleanupApp, docker, uniqueApp } from "../support/engine.ts";
import { sleep, until } from "../support/until.ts";

// A counter in the memory of a running process: it survives a pause only if the process does.
// Each value is written aside and moved into place, so a reader never sees a file half written.
const COUNTER = "i=0; while :; do i=$((i+1)); echo $i > /tmp/count.new; mv /tmp/count.new /tmp/count; sleep 0.05; done";

describe.each([
  { path: "the supervisor", supervisor: true },
  { path: "the engine's exec", supervisor: false },
])("pause and resume, execs through $path", ({ supervisor }) => {
  const app = uniqueApp("pause");
  afterAll(() => cleanupApp(app));

  it("keeps a process's memory, uses no CPU while paused, and resumes by itself on the next exec", async () => {
    await using sandbox = await Sandbox.create({ app, image: "sandfleet/busybox", supervisor });
    const counter = await sandbox.exec(["sh", "-c", COUNTER], { stdin: false });
    // Counted past 3 before the pause, however busy the machine: the check below is that it goes on from there.
    const counted = async () => Number((await sandbox.run(["cat", "/tmp/count"])).stdout);
    for (const deadline = Date.now() + 30_000; (await counted()) <= 3 && Date.now() < deadline;) await sleep(100);
    await sandbox.pause();
    expect((await sandbox.state()).status).toBe("paused");
    const before = (await sandbox.metrics()).cpuNs;
    await sleep(1000);
    expect((await sandbox.metrics()).cpuNs - before).toBe(0);
    // The next exec thaws it: the counter goes on from where it was, not from 0.
    const atPause = Number((await sandbox.run(["cat", "/tmp/count"])).stdout);
    expect(atPause).toBeGreaterThan(3);
    expect((await sandbox.state()).status).toBe("running");
    await sleep(500);
    expect(Number((await sandbox.run(["cat", "/tmp/count"])).stdout)).toBeGreaterThan(atPause);
    expect(counter.poll()).toBeNull();
    await counter.kill();
  });

  it("pauses and resumes from the CLI, and a file call resumes it too", async () => {
    await using sandbox = await Sandbox.create({ app, image: "sandfleet/busybox", supervisor });
    expect((await sandfleet(["pause", sandbox.id])).code).toBe(0);
    expect((await sandbox.state()).status).toBe("paused");
    expect((await sandfleet(["resume", sandbox.id])).code).toBe(0);
    expect((await sandbox.state()).status).toBe("running");
    await sandbox.pause();
    await sandbox.files.write("/tmp/while-paused", "thawed");
    expect(await sandbox.files.readText("/tmp/while-paused")).toBe("thawed");
    expect((await sandbox.state()).status).toBe("running");
  });

  it("idleAction pause: the agent pauses an idle sandbox instead of ending it, and an exec resumes it", async () => {
    await using sandbox = await Sandbox.create({
      app,
      image: "sandfleet/busybox",
      supervisor,
      idleTimeoutMs: 2000,
      idleAction: "pause",
    });
    await sandbox.files.write("/tmp/kept", "still here");
    const agent = new Agent({ docker, app });
    const events: AgentEvent[] = [];
    await until(
      "the agent's pause",
      async () => {
        events.push(...(await agent.reconcileOnce()));
        return events.some((e) => e.action === "paused");
      },
      20_000,
    );
    expect(events.filter((e) => e.action !== "refilled")).toEqual([
      { action: "paused", sandbox: expect.stringContaining(sandbox.name) as string, reason: "idle" },
    ]);
    expect((await sandbox.state()).status).toBe("paused");
    // Never ended for it, however long it stays paused.
    await agent.reconcileOnce();
    expect((await sandbox.state()).status).toBe("paused");
    expect(await sandbox.files.readText("/tmp/kept")).toBe("still here");
    expect((await sandbox.state()).status).toBe("running");
    // Just resumed: not idle again on the agent's next pass.
    expect((await agent.reconcileOnce()).filter((e) => e.action === "paused")).toEqual([]);
    expect((await sandbox.state()).status).toBe("running");
  });
});

describe("a paused sandbox and its tunnel", () => {
  const app = uniqueApp("pause-tunnel");
  afterAll(() => cleanupApp(app));

  it("resumes when a connection waits on its published port", async () => {
    await new Sandfleet({ docker }).apps.lookup(app, { createIfMissing: true });
    await using sandbox = await Sandbox.create({
      app,
      image: "sandfleet/python",
      network: "app",
      ports: [8000],
      command: ["python3", "-m", "http.server", "8000"],
      readiness: { tcpPort: 8000 },
    });
    await sandbox.waitUntilReady();
    const [tunnel] = await sandbox.tunnels();
    await sandbox.pause();
    const agent = new Agent({ docker, app });
    expect((await agent.reconcileOnce()).filter((e) => e.action === "resumed")).toEqual([]);
    // A request that waits on the frozen server; the agent notices it and thaws the sandbox.
    const reply = new Promise<string>((resolve, reject) => {
      const socket = connect(tunnel?.hostPort ?? 0, "127.0.0.1", () => {
        socket.write("GET / HTTP/1.0\r\n\r\n");
      });
      let text = "";
      socket.on("data", (chunk: Buffer) => (text += chunk.toString()));
      socket.on("end", () => {
        resolve(text);
      });
      socket.on("error", reject);
    });
    const events: AgentEvent[] = [];
    await until(
      "the agent's resume",
      async () => {
        events.push(...(await agent.reconcileOnce()));
        return events.some((e) => e.action === "resumed");
      },
      10_000,
    );
    expect(events.find((e) => e.action === "resumed")?.sandbox).toContain(sandbox.name);
    expect(await reply).toMatch(/^HTTP\/1\.0 200/);
    expect((await sandbox.state()).status).toBe("running");
  });
});

describe("metrics", () => {
  const app = uniqueApp("metrics");
  afterAll(() => cleanupApp(app));

  it("report the CPU, memory and processes of a known load", async () => {
    await using sandbox = await Sandbox.create({ app, image: "sandfleet/python", memoryMiB: 256 });
    const idle = await sandbox.metrics();
    const load = await sandbox.exec(
      [
        "python3",
        "-c",
        "import time; open('/tmp/16m', 'wb').write(bytes(16 * 1024 * 1024))\n" +
          "b = bytearray(64 * 1024 * 1024); t = time.time()\nwhile time.time() - t < 60: pass",
      ],
      { stdin: false },
    );
    await sleep(1500);
    const busy = await sandbox.metrics();
    // A busy loop for 1.5 s: most of a second of CPU at the least.
    expect(busy.cpuNs - idle.cpuNs).toBeGreaterThan(500_000_000);
    expect(busy.memoryBytes).toBeGreaterThan(64 * 1024 * 1024);
    expect(busy.memoryLimitBytes).toBe(256 * 1024 * 1024);
    expect(busy.pids).toBeGreaterThan(idle.pids);
    expect(busy.diskBytes - idle.diskBytes).toBeGreaterThanOrEqual(16 * 1024 * 1024);
    await load.kill();
  });
});
