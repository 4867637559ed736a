import { spawn, type ChildProcess } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { Agent } from "../../provider/runtime/agent/agent.ts";
import { poolProvider } from "../../provider/resources/pool-provider.ts";
import { Sandbox } from "../../provider/client/sandbox.ts";
import { cleanupApp, docker, uniqueApp } from "../support/engine.ts";
import { until } from "../support/until.ts";

const cli = new URL("../../provider/cli/main.ts", import.meta.url).pathname;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An agent for this file's app only: the other test files share the engine. */
function startAgent(app: string): ChildProcess {
  return spawn(process.execPath, [cli, "agent", "--app", app, "--interval", "200ms", "--json"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
}

// The agent is what ends sandboxes that run without the supervisor (which
// ends its own); these sandboxes run without one, so that the agent is alone.
describe("sandfleet agent against a real engine", () => {
  const app = uniqueApp("agent");
  afterAll(() => cleanupApp(app));

  it("ends a sandbox past its timeout with exit code 124", async () => {
    const sandbox = await Sandbox.create({ app, image: "sandfleet/busybox", timeoutMs: 1000, supervisor: false });
    const agent = new Agent({ docker, app });
    expect(await agent.reconcileOnce()).toEqual([]);
    await sleep(1200);
    const events = await agent.reconcileOnce();
    expect(events).toContainEqual(expect.objectContaining({ action: "ended", reason: "timeout" }));
    expect(await sandbox.wait()).toBe(124);
    expect((await sandbox.state()).containerName).toMatch(/\.ended-timeout$/);
  });

  it("ends an idle sandbox and spares a busy one", async () => {
    const idle = await Sandbox.create({ app, image: "sandfleet/busybox", idleTimeoutMs: 2000, supervisor: false });
    const busy = await Sandbox.create({ app, image: "sandfleet/busybox", idleTimeoutMs: 2000, supervisor: false });
    const recent = await Sandbox.create({ app, image: "sandfleet/busybox", idleTimeoutMs: 2000, supervisor: false });
    const work = await busy.exec(["sleep", "600"]);
    // One agent's passes, as `sandfleet agent` runs them; `recent` is used before each (activity
    // resets its idle clock). On an engine whose event buffer other work churns, the agent counts
    // idleness only from where its record is unbroken, so this takes a pass or two more, never an end early.
    const agent = new Agent({ docker, app });
    await until("the idle sandbox ended by the agent", async () => {
      await recent.run(["true"]);
      await agent.reconcileOnce();
      return (await idle.poll()) === 124;
    });
    expect(await busy.poll()).toBeNull();
    expect(await recent.poll()).toBeNull();
    await work.kill();
  });

  it("keeps a lifetime extended on the live sandbox, after a restart of its own", async () => {
    const sandbox = await Sandbox.create({ app, image: "sandfleet/busybox", timeoutMs: 2000, supervisor: false });
    await sandbox.setTimeout(5000);
    await sleep(2500);
    // A new agent knows the new deadline only from the engine.
    await new Agent({ docker, app }).reconcileOnce();
    expect(await sandbox.poll()).toBeNull();
    await sleep(3000);
    await new Agent({ docker, app }).reconcileOnce();
    expect(await sandbox.poll()).toBe(124);
    await expect(sandbox.setTimeout(5000)).rejects.toThrow(/has ended/);
  });

  it("killed and restarted, still ends what it must", async () => {
    const first = startAgent(app);
    await sleep(500);
    first.kill("SIGKILL");
    await new Promise((resolve) => first.once("exit", resolve));
    // Made while no agent runs: only the engine knows its deadline.
    const sandbox = await Sandbox.create({ app, image: "sandfleet/busybox", timeoutMs: 2000, supervisor: false });
    await sleep(2100);
    const second = startAgent(app);
    try {
      expect(await sandbox.wait()).toBe(124);
    } finally {
      // Gone before the next test makes a pool of this app, which a pass still running would refill too.
      const exited = new Promise((resolve) => second.once("exit", resolve));
      second.kill("SIGTERM");
      await exited;
    }
  });

  it("counts a pool member's lifetime from its claim, and refills the pool", async () => {
    const inputs = (
      await poolProvider.check(
        {},
        {
          app,
          name: "short",
          replicas: 1,
          template: { image: "sandfleet/busybox", timeoutMs: 1000, supervisor: false },
        },
      )
    ).inputs as Record<string, unknown>;
    await poolProvider.create(inputs);
    await sleep(1200);
    const agent = new Agent({
      docker,
      app,
      reconcilers: [(d) => import("../../provider/runtime/agent/pool-agent.ts").then((m) => m.refillPools(d, app))],
    });
    expect(await agent.reconcileOnce()).toEqual([]);
    const claimed = await Sandbox.claim(app, "short");
    await sleep(600);
    const events = await agent.reconcileOnce();
    expect(await claimed.poll()).toBeNull();
    await sleep(600);
    events.push(...(await agent.reconcileOnce()));
    expect(await claimed.poll()).toBe(124);
    expect(events).toContainEqual(expect.objectContaining({ action: "refilled", sandbox: `${app}/short` }));
    const warm = await Sandbox.claim(app, "short");
    expect((await warm.state()).running).toBe(true);
  });
});
