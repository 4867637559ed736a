import { describe, expect, it } from "vitest";
import { enforceLifetimes } from "../../provider/runtime/agent/agent.ts";
import { reportedExitCode, setDeadline, TIMEOUT_EXIT_CODE } from "../../provider/runtime/sandboxes/lifetime.ts";
import { claimMember, reconcilePool } from "../../provider/runtime/pools/pool.ts";
import { INIT_CHECK_ARGV } from "../../provider/runtime/engine-state/readiness.ts";
import { createSandbox } from "../../provider/runtime/sandboxes/sandbox-ops.ts";
import type { SandboxParams } from "../../provider/runtime/sandboxes/sandbox-params.ts";
import type { FakeClock } from "../support/fake-clock.ts";
import type { MemoryEngine } from "../support/memory-engine.ts";
import { MEMORY_TEMPLATE, memoryFleet, recordedPool } from "../support/memory-fleet.ts";

async function sandbox(docker: MemoryEngine, params: Partial<SandboxParams> = {}): Promise<string> {
  return (await createSandbox(docker, { ...MEMORY_TEMPLATE, app: "demo", ...params })).id;
}

/** One pass of the agent's lifetime step at the clock's now; the agent started with the test. */
function pass(docker: MemoryEngine, clock: FakeClock, agentStartedMs: number) {
  return enforceLifetimes(docker, clock.now(), agentStartedMs, "demo");
}

describe("lifetimes, as the agent decides them", () => {
  it("end a sandbox at its timeout, not a moment before, and report it with timeout(1)'s exit code", async () => {
    const { clock, docker } = memoryFleet();
    const started = clock.now();
    const id = await sandbox(docker, { timeoutMs: 10_000 });
    await clock.advance(9_999);
    expect(await pass(docker, clock, started)).toEqual([]);
    await clock.advance(1);
    const [ended] = await pass(docker, clock, started);
    expect(ended).toMatchObject({ action: "ended", reason: "timeout" });
    const container = await docker.containers.inspect(id);
    expect(container?.name).toMatch(/\.ended-timeout$/);
    expect(container && reportedExitCode(container)).toBe(TIMEOUT_EXIT_CODE);
  });

  it("end a sandbox idle for its idle timeout; an exec puts it off, the engine's own health checks do not", async () => {
    const { clock, docker } = memoryFleet({ exec: () => ({ exitCode: 0 }) });
    const started = clock.now();
    const id = await sandbox(docker, { idleTimeoutMs: 5_000 });
    await clock.advance(3_000);
    await docker.exec.run(id, { argv: ["python3", "job.py"] });
    await clock.advance(2_000);
    await docker.exec.run(id, { argv: [...INIT_CHECK_ARGV] });
    expect(await pass(docker, clock, started)).toEqual([]);
    await clock.advance(2_999);
    expect(await pass(docker, clock, started)).toEqual([]);
    await clock.advance(1);
    const name = (await docker.containers.inspect(id))?.name;
    expect(await pass(docker, clock, started)).toEqual([{ action: "ended", sandbox: name, reason: "idle" }]);
    expect((await docker.containers.inspect(id))?.name).toBe(`${name ?? ""}.ended-idle`);
  });

  it("never end a sandbox idle while an exec runs in it, however long", async () => {
    const { clock, docker } = memoryFleet();
    let finish: () => void = () => undefined;
    docker.onExec(
      () =>
        new Promise((resolve) => {
          finish = () => {
            resolve({ exitCode: 0 });
          };
        }),
    );
    const started = clock.now();
    const id = await sandbox(docker, { idleTimeoutMs: 5_000 });
    const running = docker.exec.run(id, { argv: ["sleep", "600"] });
    await clock.advance(600_000);
    expect(await pass(docker, clock, started)).toEqual([]);
    finish();
    await running;
    await clock.advance(5_000);
    expect(await pass(docker, clock, started)).toMatchObject([{ action: "ended", reason: "idle" }]);
  });

  it("never end a sandbox early when a flood of other events (a pool's lock taken each pass) pushed its execs out of the engine's buffer", async () => {
    const { clock, docker } = memoryFleet({ exec: () => ({ exitCode: 0 }) });
    const agentStarted = clock.now();
    const pool = await recordedPool(docker, { replicas: 1 });
    const id = await sandbox(docker, { idleTimeoutMs: 300_000 });
    await clock.advance(600_000);
    await docker.exec.run(id, { argv: ["python3", "job.py"] });
    await clock.advance(60_000);
    // An agent's passes: each takes the pool's lock (a record made and removed) though the pool is full.
    for (let i = 0; i < 150; i++) await reconcilePool(docker, pool, { clock });
    expect(await pass(docker, clock, agentStarted)).toEqual([]);
    await clock.advance(299_999);
    expect(await pass(docker, clock, agentStarted)).toEqual([]);
    await clock.advance(1);
    expect(await pass(docker, clock, agentStarted)).toMatchObject([{ action: "ended", reason: "idle" }]);
  });

  it("pause, not end, a sandbox whose idle action is pause", async () => {
    const { clock, docker } = memoryFleet();
    const started = clock.now();
    const id = await sandbox(docker, { idleTimeoutMs: 5_000, idleAction: "pause" });
    await clock.advance(5_000);
    expect(await pass(docker, clock, started)).toMatchObject([{ action: "paused", reason: "idle" }]);
    expect((await docker.containers.inspect(id))?.status).toBe("paused");
    expect(await pass(docker, clock, started)).toEqual([]);
  });

  it("count a pool member's lifetime from its claim, not from when it was made warm", async () => {
    const { clock, docker } = memoryFleet();
    const started = clock.now();
    const pool = await recordedPool(docker, { replicas: 1, template: { timeoutMs: 10_000 } });
    await reconcilePool(docker, pool, { clock });
    await clock.advance(60_000);
    expect(await pass(docker, clock, started)).toEqual([]);
    const id = await claimMember(docker, pool.app, pool.name, { clock });
    await clock.advance(9_999);
    expect(await pass(docker, clock, started)).toEqual([]);
    await clock.advance(1);
    expect(await pass(docker, clock, started)).toMatchObject([{ action: "ended", reason: "timeout" }]);
    expect((await docker.containers.inspect(id))?.running).toBe(false);
  });

  it("end a sandbox at a deadline set on it live, shorter or longer than its timeout", async () => {
    const { clock, docker } = memoryFleet();
    const started = clock.now();
    const shortened = await sandbox(docker, { timeoutMs: 60_000 });
    const lengthened = await sandbox(docker, { timeoutMs: 10_000 });
    await setDeadline(docker, { id: shortened, app: "demo", supervised: false }, 5_000, clock);
    await setDeadline(docker, { id: lengthened, app: "demo", supervised: false }, 20_000, clock);
    const shortName = (await docker.containers.inspect(shortened))?.name;
    await clock.advance(5_000);
    expect((await pass(docker, clock, started)).map((e) => e.sandbox)).toEqual([shortName]);
    await clock.advance(10_000);
    expect(await pass(docker, clock, started)).toEqual([]);
    await clock.advance(5_000);
    expect(await pass(docker, clock, started)).toMatchObject([{ action: "ended", reason: "timeout" }]);
  });
});
