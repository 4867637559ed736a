import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { NotFoundError } from "../../provider/errors.ts";
import { appProvider } from "../../provider/resources/app-provider.ts";
import { poolProvider } from "../../provider/resources/pool-provider.ts";
import { Sandbox } from "../../provider/client/sandbox.ts";
import { collectSupervisors, forgetPlacement, placeSupervisor } from "../../provider/runtime/supervisor/placement.ts";
import { DisposableEngine } from "../support/disposable-engine.ts";
import { runCommand } from "../support/run.ts";
import { sandfleet } from "../support/cli.ts";
import { cleanupApp, docker, uniqueApp } from "../support/engine.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A field of /proc/PID/status inside the sandbox, e.g. CapEff. */
async function status(sandbox: Sandbox, pid: string, field: string): Promise<string> {
  const { stdout } = await sandbox.run(["sh", "-c", `grep '^${field}:' /proc/${pid}/status`], { check: true });
  return stdout.split(":")[1]?.trim() ?? "";
}

describe("the supervisor inside a sandbox", () => {
  const app = uniqueApp("sup");
  afterAll(() => cleanupApp(app));

  it("is PID 1, as the sandbox's user, with no capabilities, and reaps every orphan", async () => {
    await using sandbox = await Sandbox.create({ app, image: "sandfleet/python", user: "sandbox" });
    const { stdout: cmdline } = await sandbox.run(["sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline"]);
    expect(cmdline).toMatch(/^\/\.sandfleet\/sandfleet-supervisor init /);
    expect((await status(sandbox, "1", "Uid")).split(/\s+/)[0]).toBe("1000");
    for (const field of ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]) {
      expect(await status(sandbox, "1", field), field).toBe("0000000000000000");
    }
    expect(await status(sandbox, "1", "NoNewPrivs")).toBe("1");
    // 50 orphans: each subshell exits at once, leaving its sleep to PID 1.
    await sandbox.run(["sh", "-c", "for i in $(seq 50); do (sleep 0.2 &); done"], { check: true });
    await sleep(1500);
    const { stdout: states } = await sandbox.run(["sh", "-c", "cat /proc/[0-9]*/stat | awk '{print $3}'"]);
    expect(states.split("\n").filter((s) => s === "Z")).toEqual([]);
  });

  it("gives the commands it runs no capabilities and no way to gain any", async () => {
    await using sandbox = await Sandbox.create({ app, image: "sandfleet/busybox" }); // root, as the image has it
    expect(await status(sandbox, "self", "CapEff")).toBe("0000000000000000");
    expect(await status(sandbox, "self", "NoNewPrivs")).toBe("1");
  });

  it("keeps its binary read-only and without setuid, even to a root user", async () => {
    await using sandbox = await Sandbox.create({ app, image: "sandfleet/busybox" });
    const bin = "/.sandfleet/sandfleet-supervisor";
    // Execute-only: what runc sandboxes run, unreadable, so every process running it is non-dumpable.
    expect((await sandbox.run(["stat", "-c", "%a %u", bin])).stdout).toBe("111 0\n");
    expect((await sandbox.run(["stat", "-c", "%a %u", `${bin}-readable`])).stdout).toBe("555 0\n");
    const { stdout: mounts } = await sandbox.run(["cat", "/proc/mounts"]);
    expect(mounts.split("\n").find((line) => line.split(" ")[1] === "/.sandfleet")).toMatch(/ ro[ ,]/);
    for (const attempt of [`echo x >> ${bin}`, `rm -f ${bin}`, `chmod u+s ${bin}`, `touch /.sandfleet/other`]) {
      const result = await sandbox.run(["sh", "-c", attempt]);
      expect(result.exitCode, attempt).not.toBe(0);
      expect(result.stderr, attempt).toMatch(/read-only file system|permission denied/i);
    }
    expect((await sandbox.run(["stat", "-c", "%a", bin])).stdout).toBe("111\n");
  });

  it("cannot be reached over any network, nor from another sandbox", async () => {
    const { inputs } = (await appProvider.check({}, { name: app })) as { inputs: Record<string, unknown> };
    await appProvider.create(inputs);
    await using a = await Sandbox.create({ app, image: "sandfleet/busybox", network: "app" });
    await using b = await Sandbox.create({ app, image: "sandfleet/busybox", network: "app" });
    // No TCP or UDP socket listens in the sandbox but the engine's own DNS
    // resolver (127.0.0.11, 0B00007F): the supervisor's socket is a Unix one.
    const { stdout: tables } = await a.run([
      "sh",
      "-c",
      "cat /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6",
    ]);
    const listening = tables
      .split("\n")
      .filter((line) => / 0A /.test(line) || / 00000000:0000 07 /.test(line))
      .filter((line) => !line.includes(" 0B00007F:"));
    expect(listening).toEqual([]);
    // Its address is abstract, so it lives in the sandbox's own network namespace:
    // not in the host's, and another sandbox's connection reaches that sandbox's own.
    expect(readFileSync("/proc/net/unix", "utf8")).not.toContain("@sandfleet-supervisor");
    await a.files.write("/tmp/only-in-a", "a");
    await expect(b.files.read("/tmp/only-in-a")).rejects.toBeInstanceOf(NotFoundError);
    expect((await a.run(["cat", "/proc/net/unix"])).stdout).toContain("@sandfleet-supervisor");
  });

  it("runs under gVisor (runsc) too", async () => {
    await using sandbox = await Sandbox.create({ app, image: "sandfleet/busybox", runtime: "runsc" });
    expect((await sandbox.state()).supervised).toBe(true);
    expect((await sandbox.run(["sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline"])).stdout).toMatch(
      /sandfleet-supervisor-readable init/, // gVisor loads only a binary its user can read
    );
    expect((await sandbox.run(["sh", "-c", "echo hi; exit 3"])).exitCode).toBe(3);
    await sandbox.files.write("/tmp/x", "under gvisor");
    expect(await sandbox.files.readText("/tmp/x")).toBe("under gvisor");
    const tty = await sandbox.exec(["stty", "size"], { pty: { rows: 20, cols: 70 } });
    expect((await tty.output()).stdout.trim()).toBe("20 70");
  });

  it("ends its sandbox at its timeout with 124, with no agent running", async () => {
    // Without its timeout it would run forever: the test's own timeout would end it instead.
    await using sandbox = await Sandbox.create({ app, image: "sandfleet/busybox", timeoutMs: 2000 });
    expect(await sandbox.wait()).toBe(124);
    const { stderr } = await sandbox.logs();
    const said = await new Promise<string>((resolve) => {
      let text = "";
      stderr.on("data", (d: Buffer) => (text += d.toString()));
      stderr.once("end", () => {
        resolve(text);
      });
    });
    expect(said).toContain("sandbox ended by its timeout");
  });

  it("ends an idle sandbox and spares one with a command running, with no agent running", async () => {
    await using idle = await Sandbox.create({ app, image: "sandfleet/busybox", idleTimeoutMs: 2000 });
    await using busy = await Sandbox.create({ app, image: "sandfleet/busybox", idleTimeoutMs: 2000 });
    // An open connection with nothing running on it is no activity.
    await idle.run(["true"]);
    const work = await busy.exec(["sleep", "4"]);
    await sleep(3000);
    expect(await idle.poll()).toBe(124);
    expect(await busy.poll()).toBeNull();
    expect(await work.wait()).toBe(0);
    // Idle from the end of its last command on.
    await sleep(1000);
    expect(await busy.poll()).toBeNull();
    expect(await busy.wait()).toBe(124);
  });

  it("takes a shorter or longer lifetime on the live sandbox, from the runtime and the CLI", async () => {
    await using short = await Sandbox.create({ app, image: "sandfleet/busybox", timeoutMs: 60_000 });
    await short.setTimeout(1000); // its first timeout, a minute, is as long as this test may take
    expect(await short.wait()).toBe(124);
    // Long enough for a CLI run on a busy machine to reach it alive.
    await using long = await Sandbox.create({ app, image: "sandfleet/busybox", timeoutMs: 8000 });
    const extended = await sandfleet(["extend", long.id, "1m", "--json"]);
    expect(extended.code, extended.stderr).toBe(0);
    expect(JSON.parse(extended.stdout)).toMatchObject({ id: long.id });
    await sleep(9000);
    expect(await long.poll()).toBeNull();
    await expect(long.setTimeout(1500)).rejects.toThrow(/multiple of 1000/);
  });

  it("counts a pool member's lifetime from its claim", async () => {
    const checked = await poolProvider.check(
      {},
      { app, name: "short", replicas: 1, template: { image: "sandfleet/busybox", timeoutMs: 2000 } },
    );
    await poolProvider.create(checked.inputs as Record<string, unknown>);
    await sleep(2500);
    const claimed = await Sandbox.claim(app, "short");
    const claimedAt = Date.now();
    expect(await claimed.poll()).toBeNull();
    expect(await claimed.wait()).toBe(124);
    expect(Date.now() - claimedAt).toBeGreaterThan(1500);
  });

  it("is placed once per engine and version, and gc removes versions nothing uses", async () => {
    const current = await placeSupervisor(docker);
    if (!current) throw new Error("this engine's CPU has no supervisor");
    // An older version, as an earlier sandfleet would have left it.
    const old = "0ld0ld0ld0ld0ld0";
    const labels = { "sandfleet.supervisor": old };
    await docker.volumes.create({ name: `sandfleet-supervisor-${old}`, labels });
    expect(await collectSupervisors(docker, true)).toContain(old);
    expect(await docker.volumes.inspect(`sandfleet-supervisor-${old}`)).toBeDefined();
    expect(await collectSupervisors(docker, false)).toContain(old);
    expect(await docker.volumes.inspect(`sandfleet-supervisor-${old}`)).toBeUndefined();
    // The current version stays, and new sandboxes keep using it.
    expect(await docker.volumes.inspect(`sandfleet-supervisor-${current.version}`)).toBeDefined();
    await using sandbox = await Sandbox.create({ app, image: "sandfleet/busybox" });
    expect((await sandbox.state()).container.labels["sandfleet.supervisor"]).toBe(current.version);
  });

  it("says clearly when its binary was removed from the volume or damaged there, and writes it again before the next sandbox", async () => {
    // On an engine of its own: damaging the shared engine's binary would fail every other test's sandboxes.
    const engine = await DisposableEngine.start();
    try {
      const on = { dockerHost: engine.host };
      const cliEnv = { env: { DOCKER_HOST: engine.host } };
      const placed = await placeSupervisor(engine.docker);
      if (!placed) throw new Error("this engine's CPU has no supervisor");
      const filler = `sandfleet-supervisor-${placed.version}`;
      await using before = await Sandbox.create({ app, image: "sandfleet/busybox" }, on);
      // Garbage where the binary was (an operator's mistake on the engine's host).
      const garbage = join(mkdtempSync(join(tmpdir(), "sandfleet-garbage-")), "sandfleet-supervisor");
      writeFileSync(garbage, "unknown garbage, not a program\n", { mode: 0o111 });
      const copied = await runCommand("docker", [
        ...["-H", engine.host, "cp", garbage, `${filler}:/supervisor/sandfleet-supervisor`],
      ]);
      expect(copied.code, copied.stderr).toBe(0);
      // A client in another process on this host reaches the running supervisor from beside, with
      // the package's own binary: the damage does not stop it.
      expect((await sandfleet(["exec", before.id, "--", "echo", "beside"], cliEnv)).stdout).toBe("beside\n");
      // Through an engine exec (another host, or no root) it cannot start it in the sandbox, and says why.
      const throughExec = { env: { ...cliEnv.env, SANDFLEET_SUPERVISOR_CHANNEL: "exec" } };
      const cli = await sandfleet(["exec", before.id, "--", "true"], throughExec);
      expect(cli.code).not.toBe(0);
      expect(cli.stderr).toMatch(/sandfleet-supervisor: exec format error.*missing or damaged/);
      // The next sandbox made gets the binary written again, and runs.
      forgetPlacement(engine.docker);
      await using after = await Sandbox.create({ app, image: "sandfleet/busybox" }, on);
      expect((await after.run(["echo", "ok"])).stdout).toBe("ok\n");
      expect((await sandfleet(["exec", before.id, "--", "echo", "again"], throughExec)).stdout).toBe("again\n");
      // Removed outright: the same.
      const removed = await runCommand("docker", [
        ...["-H", engine.host, "run", "--rm", "--network", "none", "-v", `${filler}:/s`, "sandfleet/busybox"],
        ...["rm", "/s/sandfleet-supervisor"],
      ]);
      expect(removed.code, removed.stderr).toBe(0);
      forgetPlacement(engine.docker);
      await using third = await Sandbox.create({ app, image: "sandfleet/busybox" }, on);
      expect((await third.run(["echo", "ok"])).stdout).toBe("ok\n");
    } finally {
      await engine.dispose();
    }
  });
});
