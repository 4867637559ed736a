import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
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
import { watchEvents, type SandboxEvent } from "../../provider/runtime/observability/events.ts";
import { Sandbox } from "../../provider/client/sandbox.ts";
import { sandfleet } from "../support/cli.ts";
import { ensureImage } from "../../provider/runtime/images/image-build.ts";
import { cleanupApp, docker, uniqueApp } from "../support/engine.ts";
import { DisposableEngine } from "../support/disposable-engine.ts";
import { sleep, until } from "../support/until.ts";

const cli = new URL("../../provider/cli/main.ts", import.meta.url).pathname;
/** Processes in the sandbox, zombies included, from its own /proc. */
async function processCount(sandbox: Sandbox): Promise<number> {
  const { stdout } = await sandbox.run(["sh", "-c", "ls -d /proc/[0-9]* | wc -l"], { check: true });
  // The listing counts the sh and ls of the listing itself.
  return Number(stdout.trim()) - 2;
}

describe("an init in every sandbox, and execs that end whole", () => {
  const app = uniqueApp("faults");
  afterAll(() => cleanupApp(app));

  it("reaps orphans: 1,000 execs that leave a background child leave no zombie", async () => {
    await using sandbox = await Sandbox.create({ app, image: "sandfleet/busybox", pidsLimit: 64 });
    const baseline = await processCount(sandbox);
    const queue = Array.from({ length: 1000 }, (_, i) => i);
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (queue.pop() !== undefined) {
          expect((await sandbox.run(["sh", "-c", "sleep 0 &"])).exitCode).toBe(0);
        }
      }),
    );
    await until("orphans reaped", async () => (await processCount(sandbox)) === baseline, 10_000);
    // Far more execs than the pids limit succeeded, and the limit is not held by zombies.
    expect((await sandbox.run(["true"])).exitCode).toBe(0);
    // A thousand engine execs take a minute or two on 2 cores beside the other test files; the
    // test is about what they leave behind, not how fast they run.
  }, 300_000);

  it("ends a spawn loop that filled the pids limit at its timeout, leaving no child", async () => {
    await using sandbox = await Sandbox.create({ app, image: "sandfleet/busybox", pidsLimit: 64 });
    const baseline = await processCount(sandbox);
    const result = await sandbox.run(["sh", "-c", "while :; do sleep 1000 & done"], { timeoutMs: 2000 });
    expect(result).toMatchObject({ exitCode: 137, timedOut: true, reason: "timeout" });
    await until("children gone", async () => (await processCount(sandbox)) === baseline, 5000);
  });

  it("reports an exec killed for memory as 137 with reason oom, and the sandbox lives on", async () => {
    await using sandbox = await Sandbox.create({ app, image: "sandfleet/python", memoryMiB: 48 });
    const result = await sandbox.run(["python3", "-c", "b = b'x' * (256 * 1024 * 1024)"]);
    expect(result).toMatchObject({ exitCode: 137, reason: "oom", timedOut: false });
    expect((await sandbox.run(["true"])).exitCode).toBe(0);
    // The CLI passes the code through and says why.
    const cli = await sandfleet(["exec", sandbox.id, "--", "python3", "-c", "b = b'x' * (256 * 1024 * 1024)"]);
    expect(cli.code).toBe(137);
    expect(cli.stderr).toContain("more memory than the sandbox has (oom)");
    // A process killed by a plain SIGKILL is not mistaken for one killed for memory.
    const killed = await sandbox.run(["sh", "-c", "kill -9 $$"]);
    expect(killed.exitCode).toBe(137);
    expect(killed.reason).toBeUndefined();
  });
});

describe("a disk bound that lasts", () => {
  const app = uniqueApp("diskchurn");
  afterAll(() => cleanupApp(app));

  /** Bytes a sandbox managed to write into one file before its bound stopped it. */
  async function writtenPastBound(sandbox: Sandbox): Promise<number> {
    const fill = await sandbox.run(["sh", "-c", "dd if=/dev/zero of=/fill bs=1M count=200 2>&1; stat -c %s /fill"]);
    expect(fill.stdout).toMatch(/Disk quota exceeded|No space left on device/);
    return Number(fill.stdout.trim().split("\n").at(-1));
  }

  it("counts only what a sandbox writes: an image larger than the bound starts and is stopped at it", async () => {
    // sandfleet/python is about 160 MB, more than the 64 MiB bound.
    await using sandbox = await Sandbox.create({ app, image: "sandfleet/python", diskMiB: 64 });
    const written = await writtenPastBound(sandbox);
    expect(written).toBeGreaterThan(48 * 1024 * 1024);
    expect(written).toBeLessThanOrEqual(64 * 1024 * 1024);
  });

  it("still holds after 200 bounded containers came and went", async () => {
    for (let batch = 0; batch < 20; batch++) {
      const churn = `${app}-c${String(batch)}`;
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          const sandbox = await Sandbox.create({ app: churn, image: "sandfleet/busybox", diskMiB: 16 });
          await sandbox.run(["sh", "-c", "dd if=/dev/zero of=/f bs=1M count=4 2>/dev/null"], { check: true });
        }),
      );
      await cleanupApp(churn);
    }
    await using sandbox = await Sandbox.create({ app, image: "sandfleet/busybox", diskMiB: 64 });
    expect(await writtenPastBound(sandbox)).toBeLessThanOrEqual(64 * 1024 * 1024);
  }, 600_000);
});

describe("an image build killed mid-way", () => {
  const app = uniqueApp("killedbuild");
  afterAll(() => cleanupApp(app));

  it("leaves a build context that the next build sweeps", async () => {
    const buildScript = `
      import { connectDocker } from ${JSON.stringify(new URL("../../provider/engines/docker/client.ts", import.meta.url).pathname)};
      import { ensureImage } from ${JSON.stringify(new URL("../../provider/runtime/images/image-build.ts", import.meta.url).pathname)};
      await ensureImage(connectDocker(), { app: ${JSON.stringify(app)}, name: "slow", base: "sandfleet/busybox",
        steps: [{ run: "sleep 300" }] });`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", buildScript], { stdio: "ignore" });
    const mine = () => readdirSync(tmpdir()).filter((e) => e.startsWith(`sandfleet-build-${String(child.pid)}.`));
    await until("the build under way", async () => mine().length > 0);
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    expect(mine()).toHaveLength(1);
    await ensureImage(docker, { app, name: "quick", base: "sandfleet/busybox", steps: [{ run: "true" }] });
    expect(mine()).toEqual([]);
  });
});

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

describe("exec ends told exactly", () => {
  const app = uniqueApp("execends");
  afterAll(() => cleanupApp(app));

  // Each prints the pid of a process that left the exec's session, group, environment or parent,
  // and keeps the exec running.
  const ESCAPES: Record<string, string[]> = {
    "setsid and a double fork, environment cleared": [
      "sh",
      "-c",
      "(setsid env -i sh -c 'sleep 1000 >/dev/null 2>&1 & echo $!' &); sleep 1000",
    ],
    "a process group of its own": [
      "python3",
      "-c",
      "import os, time\npid = os.fork()\nif pid == 0:\n    os.setpgid(0, 0)\n    time.sleep(1000)\nprint(pid, flush=True)\ntime.sleep(1000)",
    ],
    "nohup in a new session": ["sh", "-c", "setsid nohup env -i sleep 1000 >/dev/null 2>&1 & echo $!; sleep 1000"],
    "a daemonising python": [
      "python3",
      "-c",
      [
        "import os, sys, time",
        "if os.fork(): time.sleep(1000)",
        "os.setsid()",
        "if os.fork(): os._exit(0)",
        "print(os.getpid(), flush=True)",
        "os.closerange(0, 3)",
        "os.execve('/bin/sleep', ['sleep', '1000'], {})",
      ].join("\n"),
    ],
  };

  async function running(sandbox: Sandbox, pid: number): Promise<boolean> {
    const { stdout } = await sandbox.run(["sh", "-c", `grep -s '^State' /proc/${String(pid)}/status || true`], {
      check: true,
    });
    return stdout.trim() !== "" && !stdout.includes("zombie");
  }

  /** The first line the process writes, as a number; the stream stays open (and read) after it. */
  function firstLine(process: { stdout: NodeJS.ReadableStream }): Promise<number> {
    return new Promise((resolve, reject) => {
      let text = "";
      process.stdout.on("data", (chunk: Buffer) => {
        text += chunk.toString();
        if (text.includes("\n")) resolve(Number(text.split("\n")[0]));
      });
      process.stdout.on("end", () => {
        reject(new Error(`no line before the end: ${JSON.stringify(text)}`));
      });
    });
  }

  for (const runtime of ["runc", "runsc"] as const) {
    it(`ends every process an exec started, at its timeout and at kill(), whatever it did to its session, group, environment or parent (${runtime})`, async () => {
      await using sandbox = await Sandbox.create({
        app,
        image: "sandfleet/python",
        ...(runtime === "runsc" ? { runtime } : {}),
      });
      for (const [name, argv] of Object.entries(ESCAPES)) {
        const timed = await sandbox.exec(argv, { timeoutMs: 3000 });
        const escaped = await firstLine(timed);
        expect(await running(sandbox, escaped), `${name}: started`).toBe(true);
        expect(await timed.wait()).toBe(137);
        expect(timed.reason, name).toBe("timeout");
        await until(`${name}: gone after the timeout`, async () => !(await running(sandbox, escaped)), 5000);

        const killed = await sandbox.exec(argv);
        const escapedToo = await firstLine(killed);
        expect(await running(sandbox, escapedToo), `${name}: started`).toBe(true);
        await killed.kill();
        await killed.wait();
        expect(killed.reason, name).toBe("killed");
        await until(`${name}: gone after kill()`, async () => !(await running(sandbox, escapedToo)), 5000);
      }
    }, 120_000);
  }

  it("tells an exec killed by kill -9 from a neighbour, after another ran out of memory, as killed (not oom)", async () => {
    await using sandbox = await Sandbox.create({ app, image: "sandfleet/python", memoryMiB: 48 });
    const victim = await sandbox.exec(["sh", "-c", "echo $$; exec sleep 1000"]);
    const pid = await firstLine(victim);
    const hog = await sandbox.run(["python3", "-c", "b = bytearray(256 * 1024 * 1024)"]);
    expect(hog).toMatchObject({ exitCode: 137, reason: "oom" });
    await sandbox.run(["sh", "-c", `kill -9 ${String(pid)}`], { check: true });
    expect(await victim.wait()).toBe(137);
    expect(victim.reason).toBeUndefined();
    // And one that really runs out of memory is told so.
    expect(await sandbox.run(["python3", "-c", "b = bytearray(256 * 1024 * 1024)"])).toMatchObject({
      exitCode: 137,
      reason: "oom",
    });
  });

  /** The reason of a sandbox's `ended` event, replayed from the engine's events. */
  async function endedReason(sandbox: Sandbox, sinceMs: number): Promise<SandboxEvent | undefined> {
    const controller = new AbortController();
    let ended: SandboxEvent | undefined;
    for await (const event of watchEvents(docker, { app, sinceMs, signal: controller.signal })) {
      if (event.id === sandbox.id && event.kind === "ended") {
        ended = event;
        controller.abort();
      }
    }
    return ended;
  }

  it("tells a sandbox whose command another process killed right after an exec ran out of memory as exit, and one whose command ran out of memory as oom", async () => {
    const since = Date.now() - 1000;
    const killed = await Sandbox.create({
      app,
      image: "sandfleet/python",
      memoryMiB: 48,
      command: ["sh", "-c", "echo $$ > /tmp/main; exec sleep 1000"],
    });
    expect(await killed.run(["python3", "-c", "b = bytearray(256 * 1024 * 1024)"])).toMatchObject({ reason: "oom" });
    // The sandbox ends with its command, this exec with it.
    void killed.run(["sh", "-c", "kill -9 $(cat /tmp/main)"]).catch(() => undefined);
    expect(await killed.wait()).toBe(137);
    expect(await endedReason(killed, since)).toMatchObject({ reason: "exit", exitCode: 137 });
    await killed.remove();

    const ooms = await Sandbox.create({
      app,
      image: "sandfleet/python",
      memoryMiB: 48,
      command: ["python3", "-c", "import time; time.sleep(0.5); b = bytearray(256 * 1024 * 1024)"],
    });
    expect(await ooms.wait()).toBe(137);
    expect(await endedReason(ooms, since)).toMatchObject({ reason: "oom", exitCode: 137 });
    await ooms.remove();
  });

  it("tells a terminate right after an exec ran out of memory as terminated, not oom", async () => {
    const since = Date.now() - 1000;
    const sandbox = await Sandbox.create({ app, image: "sandfleet/python", memoryMiB: 48 });
    expect(await sandbox.run(["python3", "-c", "b = bytearray(256 * 1024 * 1024)"])).toMatchObject({
      reason: "oom",
    });
    expect(await sandbox.terminate()).toBe(137);
    const controller = new AbortController();
    let ended: SandboxEvent | undefined;
    for await (const event of watchEvents(docker, { app, sinceMs: since, signal: controller.signal })) {
      if (event.id === sandbox.id && event.kind === "ended") {
        ended = event;
        controller.abort();
      }
    }
    expect(ended).toMatchObject({ reason: "terminated", exitCode: 137 });
    await sandbox.remove();
  });
});
