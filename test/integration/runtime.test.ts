import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { InvalidArgumentError, NotFoundError, TimeoutError } from "../../provider/errors.ts";
import { Sandbox } from "../../provider/client/sandbox.ts";
import { cleanupApp, uniqueApp } from "../support/engine.ts";
import { appProvider } from "../../provider/resources/app-provider.ts";

const createAndExit = new URL("../fixtures/scripts/create-and-exit.ts", import.meta.url).pathname;

describe("the runtime API against a real engine", () => {
  const app = uniqueApp("rt");
  afterAll(() => cleanupApp(app));

  it("finds sandboxes by name and by tags after the process that made them has exited", async () => {
    const id = execFileSync(process.execPath, [createAndExit, app, "worker"], { encoding: "utf8" }).trim();
    const byName = await Sandbox.fromName(app, "worker");
    expect(byName.id).toBe(id);
    expect((await Sandbox.list({ app, tags: { team: "agents" } })).map((s) => s.id)).toEqual([id]);
    expect(await Sandbox.list({ app, tags: { team: "agents", tier: "paid" } })).toEqual([]);
    await expect(Sandbox.fromName(app, "nobody")).rejects.toBeInstanceOf(NotFoundError);
  });

  it("streams output while the command runs, and returns its exit code", async () => {
    await using sandbox = await Sandbox.create({ app, image: "sandfleet/busybox" });
    const process = await sandbox.exec(["sh", "-c", "echo first; sleep 2; echo second; exit 4"]);
    const first = await new Promise<string>((resolve) =>
      process.stdout.once("data", (d: Buffer) => {
        resolve(d.toString());
      }),
    );
    const firstAt = Date.now();
    expect(first).toBe("first\n");
    const rest = await process.output();
    // The first line came while the command still had its sleep ahead of it.
    expect(Date.now() - firstAt).toBeGreaterThan(1000);
    expect(rest).toMatchObject({ exitCode: 4, stdout: "second\n", timedOut: false });
  });

  it("ends a command that outlives its timeout, children included, and says so", async () => {
    await using sandbox = await Sandbox.create({ app, image: "sandfleet/python", user: "sandbox" });
    // Left alone, the command would run five minutes, past this test's own timeout.
    const result = await sandbox.run(["sh", "-c", "sleep 300 & python3 -c 'import time; time.sleep(300)'"], {
      timeoutMs: 1000,
    });
    expect(result).toMatchObject({ exitCode: 137, timedOut: true });
    const processes = async () =>
      (await sandbox.run(["sh", "-c", "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done"])).stdout;
    expect(await processes()).toMatch(/sleep infinity/);
    expect(await processes()).not.toMatch(/sleep 300|time\.sleep/);
  });

  it("round-trips 10 MiB through stdin intact", async () => {
    await using sandbox = await Sandbox.create({ app, image: "sandfleet/busybox" });
    const payload = randomBytes(10 * 1024 * 1024);
    const process = await sandbox.exec(["sh", "-c", "cat"], { stdin: true });
    process.stdin.end(payload);
    const out = await process.outputBytes();
    expect(out.exitCode).toBe(0);
    expect(out.stdout.length).toBe(payload.length);
    expect(createHash("sha256").update(out.stdout).digest("hex")).toBe(
      createHash("sha256").update(payload).digest("hex"),
    );
  });

  it("reports 137 for a terminated sandbox through poll and wait", async () => {
    await using sandbox = await Sandbox.create({ app, image: "sandfleet/busybox" });
    expect(await sandbox.poll()).toBeNull();
    expect(await sandbox.terminate()).toBe(137);
    expect(await sandbox.poll()).toBe(137);
    expect(await sandbox.wait()).toBe(137);
  });

  it("waits until ready, and refuses when there is no probe or the sandbox has ended", async () => {
    await using ready = await Sandbox.create({
      app,
      image: "sandfleet/busybox",
      command: ["sh", "-c", "sleep 1; touch /tmp/up; exec sleep infinity"],
      readiness: { exec: ["test", "-f", "/tmp/up"] },
    });
    await ready.waitUntilReady();
    expect((await ready.run(["ls", "/tmp/up"])).exitCode).toBe(0);

    await using noProbe = await Sandbox.create({ app, image: "sandfleet/busybox" });
    await expect(noProbe.waitUntilReady()).rejects.toThrow(/has no readiness probe/);

    await using never = await Sandbox.create({
      app,
      image: "sandfleet/busybox",
      readiness: { tcpPort: 7000, intervalMs: 50 },
    });
    await expect(never.waitUntilReady({ timeoutMs: 300 })).rejects.toThrow(TimeoutError);
    await expect(never.waitUntilReady({ timeoutMs: 300 })).rejects.toThrow(
      /\(tcp port 7000\) not ready after 300 ms: nothing listens on port 7000/,
    );
    await never.terminate();
    await expect(never.waitUntilReady()).rejects.toThrow(/exited with code 137/);
  });

  it("gives tunnels to published ports", async () => {
    const { inputs } = (await appProvider.check({}, { name: app })) as { inputs: Record<string, unknown> };
    await appProvider.create(inputs);
    await using web = await Sandbox.create({
      app,
      image: "sandfleet/python",
      network: "app",
      ports: [8080],
      command: ["python3", "-m", "http.server", "8080"],
      readiness: { tcpPort: 8080 },
    });
    await web.waitUntilReady();
    const [tunnel] = await web.tunnels();
    expect(tunnel).toMatchObject({ containerPort: 8080, host: "127.0.0.1" });
    expect((await fetch(tunnel?.url ?? "")).status).toBe(200);
  });

  it("reads, writes, lists, makes and removes files, as the sandbox's user", async () => {
    await using sandbox = await Sandbox.create({ app, image: "sandfleet/busybox", user: "sandbox" });
    const files = sandbox.files;
    const binary = randomBytes(4096);
    await files.write("/home/sandbox/work/data.bin", binary);
    await files.write("/home/sandbox/work/notes.txt", "héllo\n");
    await files.mkdir("/home/sandbox/work/sub dir");
    expect(Buffer.compare(await files.read("/home/sandbox/work/data.bin"), binary)).toBe(0);
    expect(await files.readText("/home/sandbox/work/notes.txt")).toBe("héllo\n");
    expect(await files.list("/home/sandbox/work")).toEqual([
      { name: "data.bin", type: "file", sizeBytes: 4096 },
      { name: "notes.txt", type: "file", sizeBytes: 7 },
      { name: "sub dir", type: "directory", sizeBytes: expect.any(Number) as number },
    ]);
    expect((await sandbox.run(["stat", "-c", "%U", "/home/sandbox/work/notes.txt"])).stdout).toBe("sandbox\n");
    await files.remove("/home/sandbox/work", { recursive: true });
    await expect(files.list("/home/sandbox/work")).rejects.toBeInstanceOf(NotFoundError);
    await expect(files.read("/home/sandbox/missing")).rejects.toThrow(/cannot read \/home\/sandbox\/missing/);
    await expect(files.write("relative/path", "x")).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(files.write("/etc/passwd", "x")).rejects.toThrow(/cannot write \/etc\/passwd: .*permission denied/i);
  });

  it("snapshots the filesystem into an image a new sandbox starts from", async () => {
    await using source = await Sandbox.create({ app, image: "sandfleet/busybox" });
    await source.files.write("/root/state.txt", "before the snapshot\n");
    const snapshot = await source.snapshotFilesystem("checkpoint");
    await using restored = await Sandbox.create({ app, image: snapshot.imageRef });
    expect(await restored.files.readText("/root/state.txt")).toBe("before the snapshot\n");
  });
});
