import { spawn, type ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EngineUnavailableError } from "../../provider/errors.ts";
import {
  claimRecordName,
  listMembers,
  memberName,
  reconcilePool,
  writePoolRecord,
  type PoolParams,
} from "../../provider/runtime/pools/pool.ts";
import { LABEL } from "../../provider/runtime/engine-state/labels.ts";
import { Sandbox } from "../../provider/client/sandbox.ts";
import { uniqueApp } from "../support/engine.ts";
import { DisposableEngine } from "../support/disposable-engine.ts";
import { sleep, until } from "../support/until.ts";

// Faults that stop or race the engine and the agent, on a disposable engine of their own.

const cli = new URL("../../provider/cli/main.ts", import.meta.url).pathname;

describe("faults on a disposable engine", () => {
  let engine: DisposableEngine;
  beforeAll(async () => {
    engine = await DisposableEngine.start();
  });
  afterAll(() => engine.dispose());

  const slowTemplate = {
    image: "sandfleet/busybox",
    memoryMiB: 32,
    command: ["sh", "-c", "sleep 2; touch /tmp/ready; exec sleep 86400"],
    readiness: { exec: ["test", "-f", "/tmp/ready"], intervalMs: 100 },
  };

  it("an engine that stops during a readiness wait fails it at once, naming the engine", async () => {
    const sandbox = await Sandbox.create(
      { app: uniqueApp("lost"), image: "sandfleet/busybox", readiness: { exec: ["false"] } },
      { dockerHost: engine.host },
    );
    // Caught at once: the wait may fail while the engine is still being stopped below.
    const waiting = sandbox.waitUntilReady().then(
      () => undefined,
      (error: unknown) => ({ error, atMs: Date.now() }),
    );
    await sleep(500);
    const stoppedAt = Date.now();
    await engine.stopDaemon("SIGKILL");
    const failed = await waiting;
    expect(failed?.error).toBeInstanceOf(EngineUnavailableError);
    expect((failed?.error as Error).message).toContain(`the Docker engine at ${engine.host} is unreachable`);
    expect((failed?.atMs ?? Infinity) - stoppedAt).toBeLessThan(3000);
    // Claims and execs do not retry into a hang either.
    await expect(Sandbox.claim("any", "pool", { dockerHost: engine.host, waitMs: 60_000 })).rejects.toBeInstanceOf(
      EngineUnavailableError,
    );
    await engine.startDaemon();
  });

  it("two agents started at the same instant never fill a pool past its replicas", async () => {
    const params: PoolParams = { app: uniqueApp("twin"), name: "workers", replicas: 4, template: slowTemplate };
    await writePoolRecord(engine.docker, params);
    await reconcilePool(engine.docker, params);
    const members = () => listMembers(engine.docker, params.app, "workers");
    const agentOnce = (): Promise<number | null> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, [cli, "agent", "--once", "--app", params.app], {
          env: { ...process.env, DOCKER_HOST: engine.host },
          stdio: "ignore",
        });
        child.on("exit", resolve);
      });
    for (let round = 0; round < 3; round++) {
      // Every warm member claimed: both agents see the whole pool missing at once.
      for (let i = 0; i < 4; i++) await Sandbox.claim(params.app, "workers", { dockerHost: engine.host });
      expect(await Promise.all([agentOnce(), agentOnce()])).toEqual([0, 0]);
      const unclaimed = (await members()).filter((m) => m.state !== "claimed");
      expect(unclaimed.map((m) => m.state)).toEqual(["warm", "warm", "warm", "warm"]);
    }
  });

  it("a claim whose claimer died before its record landed is recorded by the next agent pass", async () => {
    const params: PoolParams = { app: uniqueApp("norecord"), name: "workers", replicas: 1, template: slowTemplate };
    await writePoolRecord(engine.docker, params);
    await reconcilePool(engine.docker, params);
    const [member] = await listMembers(engine.docker, params.app, "workers");
    if (!member) throw new Error("the pool has no member");
    // What a claimer leaves when it dies right after the rename: a claimed member, no record.
    await engine.docker.containers.rename(member.id, memberName(params.app, "workers", "c", member.memberId));
    const record = () => engine.docker.records.inspect(claimRecordName(params.app, "workers", member.memberId));
    expect(await record()).toBeUndefined();
    const before = Date.now();
    const code = await new Promise((resolve) => {
      spawn(process.execPath, [cli, "agent", "--once", "--app", params.app], {
        env: { ...process.env, DOCKER_HOST: engine.host },
        stdio: "ignore",
      }).on("exit", resolve);
    });
    expect(code).toBe(0);
    const claimedAt = Number((await record())?.labels[LABEL.claimedAt]);
    expect(claimedAt).toBeGreaterThanOrEqual(before);
  });

  it("a SIGKILLed agent mid-refill is finished by the next: the pool is back at replicas, no extras", async () => {
    const params: PoolParams = { app: uniqueApp("refill"), name: "workers", replicas: 4, template: slowTemplate };
    await writePoolRecord(engine.docker, params);
    await reconcilePool(engine.docker, params);
    for (let i = 0; i < 3; i++) await Sandbox.claim(params.app, "workers", { dockerHost: engine.host });

    const startAgent = (): ChildProcess =>
      spawn(process.execPath, [cli, "agent", "--interval", "200ms"], {
        env: { ...process.env, DOCKER_HOST: engine.host },
        stdio: "ignore",
      });
    const members = () => listMembers(engine.docker, params.app, "workers");
    const first = startAgent();
    await until("a refill under way", async () => (await members()).some((m) => m.state === "pending"));
    first.kill("SIGKILL");
    await sleep(300);
    expect((await members()).filter((m) => m.state === "pending").length).toBeGreaterThan(0);

    const second = startAgent();
    try {
      await until("the pool refilled", async () => {
        const now = await members();
        return now.filter((m) => m.state === "warm").length === 4 && !now.some((m) => m.state === "pending");
      });
      await sleep(1000); // a few more passes: nothing more is added
      const settled = await members();
      expect(settled.filter((m) => m.state !== "claimed")).toHaveLength(4);
      expect(settled.filter((m) => m.state === "claimed")).toHaveLength(3);
    } finally {
      second.kill("SIGKILL");
    }
  });
});
