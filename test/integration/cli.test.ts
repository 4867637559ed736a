import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { poolProvider } from "../../provider/resources/pool-provider.ts";
import { Sandbox } from "../../provider/client/sandbox.ts";
import { cliPath, sandfleet } from "../support/cli.ts";
import { reconcilePool, writePoolRecord } from "../../provider/runtime/pools/pool.ts";
import { cleanupApp, docker, uniqueApp } from "../support/engine.ts";

describe("the sandfleet CLI against a real engine", () => {
  const app = uniqueApp("cli");
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await Sandbox.create({
      app,
      name: "box",
      image: "sandfleet/busybox",
      tags: { team: "cli" },
      command: ["sh", "-c", "echo started; echo oops >&2; exec sleep infinity"],
    });
  });
  afterAll(() => cleanupApp(app));

  it("says which pool members are warm and which claimed", async () => {
    const poolApp = uniqueApp("clipool");
    try {
      const params = {
        app: poolApp,
        name: "warm",
        replicas: 2,
        template: { image: "sandfleet/busybox", memoryMiB: 16 },
      };
      await writePoolRecord(docker, params);
      await reconcilePool(docker, params);
      await Sandbox.claim(poolApp, "warm");
      const table = await sandfleet(["ls", "--app", poolApp]);
      expect(table.stdout.match(/warm \(warm\)/g)).toHaveLength(1);
      expect(table.stdout.match(/warm \(claimed\)/g)).toHaveLength(1);
      const json = JSON.parse((await sandfleet(["ls", "--app", poolApp, "--json"])).stdout) as { pool?: unknown }[];
      expect(json.map((s) => s.pool).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))).toEqual([
        { name: "warm", state: "claimed" },
        { name: "warm", state: "warm" },
      ]);
    } finally {
      await cleanupApp(poolApp);
    }
  });

  it("lists sandboxes as a table and as JSON", async () => {
    const table = await sandfleet(["ls", "--app", app]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^ID\s+APP\s+NAME\s+POOL\s+STATUS\s+EXIT\s+AGE\s+TAGS\n/);
    expect(table.stdout).toMatch(new RegExp(`${app}\\s+box\\s+-\\s+running\\s+-`));
    const json = await sandfleet(["ls", "--app", app, "--tag", "team=cli", "--json"]);
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({
        id: sandbox.id,
        app,
        name: "box",
        status: "running",
        exitCode: null,
        tags: { team: "cli" },
      }),
    ]);
  });

  it("passes the command's exit code and output through, and pipes stdin", async () => {
    const failing = await sandfleet(["exec", `${app}/box`, "--", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    expect(failing).toEqual({ code: 3, stdout: "out\n", stderr: "err\n" });
    const piped = await sandfleet(["exec", sandbox.id.slice(0, 12), "--", "sh", "-c", "tr a-z A-Z"], {
      input: "hello\n",
    });
    expect(piped).toMatchObject({ code: 0, stdout: "HELLO\n" });
    const json = await sandfleet(["exec", `${app}/box`, "--json", "--", "sh", "-c", "echo hi; exit 5"]);
    expect(json.code).toBe(5);
    expect(JSON.parse(json.stdout)).toEqual({ exitCode: 5, stdout: "hi\n", stderr: "", timedOut: false });
    const timed = await sandfleet(["exec", `${app}/box`, "--timeout", "1s", "--", "sleep", "30"]);
    expect(timed.code).toBe(137);
    expect(timed.stderr).toContain("command ended by its timeout (1s)");
  });

  it("runs a command on a terminal with -t, fed with -i", async () => {
    // Not itself on a terminal, the CLI gives the command a common 24x80 one.
    const sized = await sandfleet(["exec", "-t", `${app}/box`, "--", "stty", "size"]);
    expect(sized).toMatchObject({ code: 0, stdout: "24 80\r\n" });
    const shell = await sandfleet(["exec", "-it", `${app}/box`, "--", "sh"], { input: "tty; exit 3\n" });
    expect(shell.code).toBe(3);
    expect(shell.stdout).toMatch(/\/dev\/pts\/\d+/);
    const refused = await sandfleet(["exec", "-t", "--json", `${app}/box`, "--", "true"]);
    expect(refused.code).toBe(2);
  });

  it("shows what each sandbox uses with top", async () => {
    const busy = await sandfleet([
      "exec",
      `${app}/box`,
      "--",
      "sh",
      "-c",
      "(timeout 5 sh -c 'while :; do :; done' >/dev/null 2>&1 &); true",
    ]);
    expect(busy.code).toBe(0);
    const top = await sandfleet(["top", "--app", app, "--json"]);
    expect(top.code).toBe(0);
    const rows = JSON.parse(top.stdout) as { name: string; cpuPercent: number; memoryBytes: number; pids: number }[];
    const box = rows.find((r) => r.name === `${app}/box`);
    expect(box?.cpuPercent).toBeGreaterThan(20);
    expect(box?.memoryBytes).toBeGreaterThan(0);
    expect(box?.pids).toBeGreaterThan(1);
    expect((await sandfleet(["top", "--app", app])).stdout).toMatch(/SANDBOX\s+STATUS\s+CPU/);
  });

  it("ends when the command does, though the caller's stdin stays open", async () => {
    const cli = spawn(process.execPath, [cliPath, "exec", `${app}/box`, "--", "sh", "-c", "exit 4"], {
      stdio: ["pipe", "ignore", "ignore"],
    });
    const code = await new Promise<number | null>((resolve) => cli.on("close", resolve));
    expect(code).toBe(4);
  });

  it("checks a fleet against the engine's capacity, with the numbers", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sandfleet-capacity-"));
    const file = join(dir, "sandfleet.yaml");
    const fleet = (replicas: number) =>
      `app: ${app}\npools:\n  p:\n    replicas: ${String(replicas)}\n    template: { image: sandfleet/busybox, cpu: 0.5, memory: 64Mi }\n`;
    writeFileSync(file, fleet(2));
    expect(await sandfleet(["validate", file, "--capacity"])).toMatchObject({ code: 0, stdout: `${file}: valid\n` });
    writeFileSync(file, fleet(400));
    const tooBig = await sandfleet(["validate", file, "--capacity"]);
    expect(tooBig.code).toBe(1);
    expect(tooBig.stderr).toMatch(
      new RegExp(
        // The engine the tests use: the machine's socket, or sandfleet's own beside an engine it did not start.
        `^${file}:1:6  app: the fleet does not fit the engine at ${docker.host.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: its 400 sandboxes at their limits need 200 cpus \\(the engine has \\d+\\)`,
      ),
    );
  });

  it("prints the main process's logs", async () => {
    const logs = await sandfleet(["logs", `${app}/box`]);
    expect(logs).toMatchObject({ code: 0, stdout: "started\n", stderr: "oops\n" });
  });

  it("claims from a pool, snapshots, terminates and collects garbage", async () => {
    const inputs = (
      await poolProvider.check({}, { app, name: "p", replicas: 1, template: { image: "sandfleet/busybox" } })
    ).inputs as Record<string, unknown>;
    await poolProvider.create(inputs);
    const pools = async () => JSON.parse((await sandfleet(["pools", "--app", app, "--json"])).stdout) as unknown;
    expect(await pools()).toEqual([{ app, name: "p", replicas: 1, ready: 1, pending: 0, claimed: 0, paused: 0 }]);
    const claimed = await sandfleet(["claim", `${app}/p`, "--json"]);
    expect(claimed.code).toBe(0);
    const { id } = JSON.parse(claimed.stdout) as { id: string };
    const exhausted = await sandfleet(["claim", `${app}/p`]);
    expect(exhausted.code).toBe(1);
    expect(exhausted.stderr).toContain("is exhausted");
    expect(await pools()).toEqual([{ app, name: "p", replicas: 1, ready: 0, pending: 0, claimed: 1, paused: 0 }]);
    expect((await sandfleet(["pools", "--app", app])).stdout).toMatch(
      /^APP\s+POOL\s+REPLICAS\s+READY\s+PENDING\s+CLAIMED\s+PAUSED\n/,
    );

    const snapshot = await sandfleet(["snapshot", id, "--name", "cli-snap"]);
    expect(snapshot.stdout).toMatch(new RegExp(`^sandfleet/${app}/snapshots:cli-snap-`));

    const runtimeMade = await Sandbox.create({ app, image: "sandfleet/busybox" });
    const terminated = await sandfleet(["terminate", runtimeMade.id, "--json"]);
    expect(JSON.parse(terminated.stdout)).toEqual([expect.objectContaining({ exitCode: 137, removed: false })]);
    const dry = await sandfleet(["gc", "--app", app, "--dry-run", "--json"]);
    const garbage = JSON.parse(dry.stdout) as { containers: { id: string }[]; images: string[] };
    expect(garbage.containers.map((c) => c.id)).toEqual([runtimeMade.id]);
    expect(garbage.images).toEqual([snapshot.stdout.trim()]);
    await sandfleet(["gc", "--app", app]);
    expect((await sandfleet(["ls", "--app", app, "--all", "--json"])).stdout).not.toContain(runtimeMade.id);
  });

  it("validates files, with positions, exit codes and JSON", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sandfleet-cli-"));
    writeFileSync(join(dir, "good.yaml"), "app: demo\nsandboxes:\n  a: { image: sandfleet/busybox }\n");
    writeFileSync(join(dir, "bad.yaml"), "app: demo\nsandboxes:\n  a: { image: sandfleet/busybox, memory: 1TB }\n");
    expect(await sandfleet(["validate", join(dir, "good.yaml")])).toMatchObject({ code: 0 });
    const bad = await sandfleet(["validate", join(dir, "good.yaml"), join(dir, "bad.yaml")]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(
      `${join(dir, "bad.yaml")}:3:42  sandboxes.a.memory: "1TB" must be a size like 512Mi or 2Gi\n`,
    );
    const json = JSON.parse((await sandfleet(["validate", join(dir, "bad.yaml"), "--json"])).stdout) as {
      valid: boolean;
    };
    expect(json.valid).toBe(false);
  });

  it("means something with its exit codes and helps with examples", async () => {
    expect((await sandfleet(["exec", `${app}/box`])).code).toBe(2);
    expect((await sandfleet(["ls", "--bogus"])).code).toBe(2);
    expect((await sandfleet(["frobnicate"])).code).toBe(2);
    const missing = await sandfleet(["exec", `${app}/nobody`, "--", "true"]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain(`no sandbox named "nobody" in app "${app}"`);
    const unreachable = await sandfleet(["ls"], { env: { DOCKER_HOST: "unix:///run/no-engine-here.sock" } });
    expect(unreachable.code).toBe(4);
    expect(unreachable.stderr).toContain("the Docker engine at unix:///run/no-engine-here.sock is unreachable");
    const jsonError = await sandfleet(["exec", `${app}/nobody`, "--json", "--", "true"]);
    expect(JSON.parse(jsonError.stdout)).toEqual({
      error: { kind: "NotFoundError", message: expect.any(String) as string },
    });
    for (const verb of [
      "ls",
      "exec",
      "logs",
      "terminate",
      "snapshot",
      "claim",
      "gc",
      "agent",
      "validate",
      "schema",
      "up",
      "preview",
      "destroy",
    ]) {
      const help = await sandfleet([verb, "--help"]);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`usage: sandfleet ${verb}`);
      expect(help.stdout).toMatch(/examples:\n {2}sandfleet /);
    }
    const schema = await sandfleet(["schema"]);
    expect((JSON.parse(schema.stdout) as { title: string }).title).toBe("sandfleet.yaml");
  });
});
