// Behaviours Modal's own SDK tests assert of a sandbox, each against
// sandfleet's runtime on a real engine, named after the behaviour.
import { afterAll, describe, expect, it } from "vitest";
import {
  AlreadyExistsError,
  ConflictError,
  DirectoryNotEmptyError,
  InvalidArgumentError,
  IsADirectoryError,
  NotADirectoryError,
  NotFoundError,
  Sandfleet,
} from "../../provider/index.ts";
import { cleanupApp, uniqueApp } from "../support/engine.ts";

const app = uniqueApp("modal");
const sandfleet = new Sandfleet();
const create = (params: Record<string, unknown> = {}) =>
  sandfleet.sandboxes.create({ app, image: "sandfleet/busybox", user: "sandbox", ...params });

afterAll(() => cleanupApp(app));

describe("Modal's sandbox behaviours", () => {
  it("SandboxPollAndReturnCode: poll is null while it runs, then its exit code", async () => {
    await using sandbox = await create({ command: ["sh", "-c", "sleep 1; exit 42"] });
    expect(await sandbox.poll()).toBeNull();
    expect(await sandbox.wait()).toBe(42);
    expect(await sandbox.poll()).toBe(42);
  });

  it("CreateOneSandboxTerminateWaitWorks: terminate ends it with 137, a second terminate is refused", async () => {
    await using sandbox = await create();
    expect(await sandbox.terminate()).toBe(137);
    expect(await sandbox.wait()).toBe(137);
    await expect(sandbox.terminate()).rejects.toBeInstanceOf(ConflictError);
  });

  it("SandboxWithWorkdirValidation: a relative workdir is refused", async () => {
    await expect(create({ workdir: "relative/path" })).rejects.toThrow(/workdir/);
  });

  it("sandboxInvalidTimeouts: lifetimes and exec timeouts are positive whole seconds", async () => {
    await expect(create({ timeoutMs: 0 })).rejects.toThrow("invalid sandbox: timeoutMs must be positive (got 0)");
    await expect(create({ timeoutMs: -1000 })).rejects.toThrow(
      "invalid sandbox: timeoutMs must be positive (got -1000)",
    );
    await expect(create({ timeoutMs: 1500 })).rejects.toThrow(
      "invalid sandbox: timeoutMs must be a multiple of 1000 ms, whole seconds (got 1500)",
    );
    await expect(create({ idleTimeoutMs: 0 })).rejects.toThrow(
      "invalid sandbox: idleTimeoutMs must be positive (got 0)",
    );
    await expect(create({ idleTimeoutMs: 2500 })).rejects.toThrow(
      "invalid sandbox: idleTimeoutMs must be a multiple of 1000 ms",
    );
    await using sandbox = await create();
    for (const [timeoutMs, reason] of [
      [0, "timeoutMs must be positive (got 0)"],
      [-5000, "timeoutMs must be positive (got -5000)"],
      [1500, "timeoutMs must be a multiple of 1000 ms, whole seconds (got 1500)"],
    ] as const) {
      const error = await sandbox.exec(["echo", "test"], { timeoutMs }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message).toBe(`invalid exec: ${reason}`);
    }
  });

  it("SandboxExecOptions: workdir and a timeout per exec", async () => {
    await using sandbox = await create();
    const process = await sandbox.exec(["pwd"], { workdir: "/tmp", timeoutMs: 5000 });
    const { stdout, exitCode } = await process.output();
    expect({ stdout, exitCode }).toEqual({ stdout: "/tmp\n", exitCode: 0 });
  });

  it("refuses a relative or empty exec workdir before anything runs", async () => {
    await using sandbox = await create();
    for (const workdir of ["tmp", ""]) {
      await expect(sandbox.exec(["pwd"], { workdir })).rejects.toThrow(
        `invalid exec: workdir must be an absolute path, got: ${JSON.stringify(workdir)}`,
      );
    }
  });

  it("an exec polls null while it runs, then its exit code", async () => {
    await using sandbox = await create();
    const process = await sandbox.exec(["sh", "-c", "sleep 1; exit 3"]);
    expect(process.poll()).toBeNull();
    expect(await process.wait()).toBe(3);
    expect(process.poll()).toBe(3);
  });

  it("a detached handle refuses every later call", async () => {
    const sandbox = await create();
    sandbox.detach();
    await expect(sandbox.exec(["true"])).rejects.toThrow(/was detached; get a new one with fromId/);
    await expect(sandbox.poll()).rejects.toThrow(/was detached/);
    await expect(sandbox.terminate()).rejects.toThrow(/was detached/);
    expect(() => sandbox.files).toThrow(/was detached/);
    const again = await sandfleet.sandboxes.fromId(sandbox.id);
    expect(await again.terminate()).toBe(137);
  });
});

describe("Modal's file behaviours", () => {
  it("writes bytes in every form: string, Buffer, Uint8Array, ArrayBuffer", async () => {
    await using sandbox = await create();
    const { files } = sandbox;
    await files.write("/tmp/s", "text");
    await files.write("/tmp/b", Buffer.from("buffer"));
    await files.write("/tmp/u", new Uint8Array([1, 2, 3]));
    await files.write("/tmp/a", new Uint8Array([4, 5]).buffer);
    expect(await files.readText("/tmp/s")).toBe("text");
    expect(await files.readText("/tmp/b")).toBe("buffer");
    expect([...(await files.read("/tmp/u"))]).toEqual([1, 2, 3]);
    expect([...(await files.read("/tmp/a"))]).toEqual([4, 5]);
  });

  it("lists a file as itself, and a symlink with its target", async () => {
    await using sandbox = await create();
    await sandbox.files.write("/tmp/d/f.txt", "12345");
    await sandbox.run(["ln", "-s", "/tmp/d/f.txt", "/tmp/d/link"], { check: true });
    expect(await sandbox.files.list("/tmp/d/f.txt")).toEqual([{ name: "f.txt", type: "file", sizeBytes: 5 }]);
    expect(await sandbox.files.list("/tmp/d")).toEqual([
      { name: "f.txt", type: "file", sizeBytes: 5 },
      { name: "link", type: "symlink", sizeBytes: 12, target: "/tmp/d/f.txt" },
    ]);
  });

  it("stats a path: type, size, mode and modification time", async () => {
    await using sandbox = await create();
    await sandbox.files.write("/tmp/x.sh", "#!/bin/sh\n");
    await sandbox.run(["chmod", "750", "/tmp/x.sh"], { check: true });
    const stat = await sandbox.files.stat("/tmp/x.sh");
    expect(stat).toMatchObject({ name: "x.sh", type: "file", sizeBytes: 10, mode: 0o750 });
    expect(Math.abs(Date.parse(stat.modifiedAt) - Date.now())).toBeLessThan(60_000);
    await expect(sandbox.files.stat("/tmp/none")).rejects.toBeInstanceOf(NotFoundError);
  });

  it("makes folders with and without parents", async () => {
    await using sandbox = await create();
    const { files } = sandbox;
    await expect(files.mkdir("/tmp/p/q", { parents: false })).rejects.toBeInstanceOf(NotFoundError);
    await files.mkdir("/tmp/p/q");
    await files.mkdir("/tmp/p/q"); // with parents, an existing folder is fine
    await expect(files.mkdir("/tmp/p/q", { parents: false })).rejects.toBeInstanceOf(AlreadyExistsError);
    await files.write("/tmp/file", "x");
    await expect(files.mkdir("/tmp/file")).rejects.toBeInstanceOf(AlreadyExistsError);
    await expect(files.mkdir("/tmp/file/sub", { parents: false })).rejects.toBeInstanceOf(NotADirectoryError);
  });

  it("removes only what it is told: missing paths fail, full folders need recursive", async () => {
    await using sandbox = await create();
    const { files } = sandbox;
    await expect(files.remove("/tmp/missing")).rejects.toBeInstanceOf(NotFoundError);
    await files.remove("/tmp/missing", { force: true });
    await files.write("/tmp/full/f", "x");
    await expect(files.remove("/tmp/full")).rejects.toBeInstanceOf(DirectoryNotEmptyError);
    await files.remove("/tmp/full/f");
    await files.remove("/tmp/full");
    await files.write("/tmp/full2/a/b", "x");
    await files.remove("/tmp/full2", { recursive: true });
    await expect(files.list("/tmp/full2")).rejects.toBeInstanceOf(NotFoundError);
  });

  it("says what is wrong with a path in a typed error", async () => {
    await using sandbox = await create();
    const { files } = sandbox;
    await files.write("/tmp/plain", "x");
    await expect(files.read("/tmp")).rejects.toBeInstanceOf(IsADirectoryError);
    await expect(files.write("/tmp", "x")).rejects.toBeInstanceOf(IsADirectoryError);
    await expect(files.write("/tmp/plain/child", "x")).rejects.toBeInstanceOf(NotADirectoryError);
    await expect(files.read("/tmp/nothing")).rejects.toThrow("cannot read /tmp/nothing: no such file or folder");
  });

  it("refuses to read a file larger than the cap instead of cutting it short", async () => {
    await using sandbox = await create();
    await sandbox.files.write("/tmp/big", Buffer.alloc(2048, 1));
    await expect(sandbox.files.read("/tmp/big", { maxBytes: 1024 })).rejects.toThrow(
      "cannot read /tmp/big: it has 2048 bytes, more than maxBytes (1024)",
    );
    expect((await sandbox.files.read("/tmp/big", { maxBytes: 4096 })).length).toBe(2048);
  });
});
