import { afterAll, describe, expect, it } from "vitest";
import { watchEvents, type SandboxEvent } from "../../provider/runtime/observability/events.ts";
import { Sandbox } from "../../provider/client/sandbox.ts";
import { sandfleet } from "../support/cli.ts";
import { cleanupApp, docker, uniqueApp } from "../support/engine.ts";
import { until } from "../support/until.ts";

// Faults inside a sandbox: orphans, spawn loops, memory, and execs that try to outlive their end.
// (The disk bound's churn and the disposable engine's drills are files of their own, so that they
// run beside these.)

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
