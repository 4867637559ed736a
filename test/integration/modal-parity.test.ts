// Behaviours Modal's own SDK tests assert of a sandbox, each against
// sandfleet's runtime on a real engine, named after the behaviour.
import { afterAll, describe, expect, it } from "vitest";
import {
  AlreadyExistsError,
  ConflictError,
  DirectoryNotEmptyError,
  FileTooLargeError,
  InvalidArgumentError,
  IsADirectoryError,
  NotADirectoryError,
  NotFoundError,
  Sandfleet,
} from "../../provider/index.ts";
import { cleanupApp, docker, uniqueApp } from "../support/engine.ts";

const app = uniqueApp("modal");
const sandfleet = new Sandfleet();
const create = (params: Record<string, unknown> = {}) =>
  sandfleet.sandboxes.create({ app, image: "sandfleet/busybox", user: "sandbox", ...params });

afterAll(() => cleanupApp(app));

/** Everything a stream gives, as text. */
async function text(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

describe("Modal's sandbox behaviours", () => {
  it("SandboxPollAndReturnCode: poll is null while cat waits for stdin, then its exit code", async () => {
    await using sandbox = await create({ command: ["cat"] });
    expect(await sandbox.poll()).toBeNull();
    sandbox.stdin.end("hello, Sandbox");
    expect(await sandbox.wait()).toBe(0);
    expect(await sandbox.poll()).toBe(0);
  });

  it("SandboxPollAfterFailure: the main command's exit code", async () => {
    await using sandbox = await create({ command: ["sh", "-c", "exit 42"] });
    expect(await sandbox.wait()).toBe(42);
    expect(await sandbox.poll()).toBe(42);
  });

  it("PassCatToStdin: the main command's stdin and stdout", async () => {
    await using sandbox = await create({ command: ["cat"] });
    sandbox.stdin.end("this is input that should be mirrored by cat");
    expect(await text(sandbox.stdout)).toBe("this is input that should be mirrored by cat");
  });

  it("SandboxWithWorkdir: the main command runs in it", async () => {
    await using sandbox = await create({ command: ["pwd"], workdir: "/tmp" });
    expect(await text(sandbox.stdout)).toBe("/tmp\n");
  });

  it("CreateSandboxWithSecrets: secret values reach the main command", async () => {
    await using sandbox = await create({ command: ["sh", "-c", 'echo "$c"'], secretEnv: { c: "hello world" } });
    expect(await text(sandbox.stdout)).toBe("hello world\n");
  });

  it("SandboxWithReadOnlyVolume: a read-only mount refuses writes, said on the main command's stderr", async () => {
    const volume = await sandfleet.volumes.fromName(app, "modal-volume", { createIfMissing: true });
    await using sandbox = await create({
      command: ["sh", "-c", "echo test > /mnt/test/test.txt"],
      volumes: [volume.mount("/mnt/test", { readOnly: true })],
    });
    expect(await sandbox.wait()).toBe(1);
    expect(await text(sandbox.stderr)).toContain("Read-only file system");
  });

  it("mounts one folder of a volume (subPath), or says the engine cannot", async () => {
    const volume = await sandfleet.volumes.fromName(app, "sub-volume", { createIfMissing: true });
    const mount = volume.mount("/mnt/part", { subPath: "part/one" });
    await expect(create({ volumes: [volume.mount("/mnt/x", { subPath: "../up" })] })).rejects.toThrow(
      /volumes\[0\]\.subPath/,
    );
    const { apiVersion, capabilities } = await docker.info();
    if (capabilities.subPathMounts.supported) {
      // Docker mounts a folder that is in the volume, and refuses to start on one that is not.
      await expect(create({ volumes: [mount] })).rejects.toThrow(/part\/one/);
      {
        await using writer = await create({ user: "root", volumes: [volume.mount("/mnt/all")] });
        expect(
          (await writer.run(["sh", "-c", "mkdir -p /mnt/all/part/one && echo in > /mnt/all/part/one/f"])).exitCode,
        ).toBe(0);
      }
      await using sandbox = await create({ volumes: [mount] });
      expect((await sandbox.run(["cat", "/mnt/part/f"])).stdout).toBe("in\n");
    } else {
      // This engine would mount the whole volume: refused, before anything is made.
      const before = (await sandfleet.sandboxes.list({ app, includeEnded: true })).length;
      await expect(create({ volumes: [mount] })).rejects.toThrow(
        new RegExp(`needs an engine that speaks Engine API 1\\.45 .* speaks ${apiVersion.replace(".", "\\.")}`),
      );
      expect((await sandfleet.sandboxes.list({ app, includeEnded: true })).length).toBe(before);
    }
  });

  it("AppLookupCreateIfMissing: the runtime makes an app's network, labelled as the App resource labels it", async () => {
    const other = uniqueApp("modal-net");
    await expect(sandfleet.apps.lookup(other)).rejects.toBeInstanceOf(NotFoundError);
    try {
      const made = await sandfleet.apps.lookup(other, { createIfMissing: true });
      expect(made).toEqual({ name: other, network: `sandfleet-${other}`, internet: false });
      await using sandbox = await sandfleet.sandboxes.create({
        app: other,
        image: "sandfleet/busybox",
        network: "app",
      });
      expect((await sandbox.run(["sh", "-c", "ls /sys/class/net"])).stdout).toContain("eth0");
    } finally {
      await cleanupApp(other);
    }
  });

  it("a sandbox made from code lives 5 minutes unless told, as in Modal", async () => {
    await using made = await create();
    expect((await made.state()).container.labels["sandfleet.timeout-ms"]).toBe("300000");
    await using told = await create({ timeoutMs: 3_600_000 });
    expect((await told.state()).container.labels["sandfleet.timeout-ms"]).toBe("3600000");
  });

  it("NamedSandbox and NamedSandboxNotFound: one name per app, and a clear miss", async () => {
    await using named = await create({ name: "named-one" });
    expect((await sandfleet.sandboxes.fromName(app, "named-one")).id).toBe(named.id);
    await expect(create({ name: "named-one" })).rejects.toThrow(/already taken/);
    await expect(sandfleet.sandboxes.fromName(app, "non-existent-sandbox")).rejects.toBeInstanceOf(NotFoundError);
  });

  it("SandboxSetTagsAndList and SandboxSetMultipleTagsAndList: tags set on a live sandbox", async () => {
    await using sandbox = await create();
    const unique = String(Math.random());
    expect(await sandfleet.sandboxes.list({ tags: { "test-key": unique } })).toEqual([]);
    expect(await sandbox.getTags()).toEqual({});
    await sandbox.setTags({ "key-a": unique, "key-b": "B", "key-c": "C" });
    expect(await sandbox.getTags()).toEqual({ "key-a": unique, "key-b": "B", "key-c": "C" });
    const ids = async (tags: Record<string, string>) => (await sandfleet.sandboxes.list({ tags })).map((s) => s.id);
    expect(await ids({ "key-a": unique })).toEqual([sandbox.id]);
    expect(await ids({ "key-a": unique, "key-b": "B" })).toEqual([sandbox.id]);
    expect(await ids({ "key-a": unique, "key-b": "B", "key-d": "not-set" })).toEqual([]);
    await sandbox.setTags({ "key-a": `${unique}-2` });
    expect(await ids({ "key-a": unique })).toEqual([]);
    await expect(sandbox.setTags({ "bad key!": "x" })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it("SandboxExecSecret: secrets reach one exec, later ones over earlier", async () => {
    await using sandbox = await create();
    const result = await sandbox.run(["sh", "-c", 'echo "$c"; echo "$d"'], {
      secrets: [{ c: "hello world", d: "1" }, { d: "3" }],
    });
    expect(result.stdout).toBe("hello world\n3\n");
  });

  it("IgnoreLargeStdout: an ignored stdout reads as empty and never holds the command", async () => {
    await using sandbox = await create();
    const process = await sandbox.exec(["sh", "-c", "head -c 1000000 /dev/zero"], { stdout: "ignore" });
    expect(await text(process.stdout)).toBe("");
    expect(await process.wait()).toBe(0);
  });

  it("an exec's stdin is open by default, as Modal's", async () => {
    await using sandbox = await create();
    const process = await sandbox.exec(["cat"]);
    process.stdin.end("echoed");
    expect(await text(process.stdout)).toBe("echoed");
    const closed = await sandbox.exec(["cat"], { stdin: false });
    expect(await closed.wait()).toBe(0);
  });

  it("a timed-out exec reports 137, as Modal's, with timedOut", async () => {
    await using sandbox = await create();
    expect(await sandbox.run(["sleep", "30"], { timeoutMs: 1000 })).toMatchObject({ exitCode: 137, timedOut: true });
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

  it("a detached handle still looks (poll, wait) and refuses every call that acts", async () => {
    const sandbox = await create();
    sandbox.detach();
    await expect(sandbox.exec(["true"])).rejects.toThrow(/was detached; get a new one with fromId/);
    await expect(sandbox.terminate()).rejects.toThrow(/was detached/);
    expect(() => sandbox.files).toThrow(/was detached/);
    expect(await sandbox.poll()).toBeNull();
    const ended = sandbox.wait();
    const again = await sandfleet.sandboxes.fromId(sandbox.id);
    expect(await again.terminate()).toBe(137);
    expect(await ended).toBe(137);
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

  it("refuses to list a file (NotADirectoryError), and lists a symlink with its target", async () => {
    await using sandbox = await create();
    await sandbox.files.write("/tmp/d/f.txt", "12345");
    await sandbox.run(["ln", "-s", "/tmp/d/f.txt", "/tmp/d/link"], { check: true });
    await expect(sandbox.files.list("/tmp/d/f.txt")).rejects.toBeInstanceOf(NotADirectoryError);
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
    await expect(sandbox.files.read("/tmp/big", { maxBytes: 1024 })).rejects.toBeInstanceOf(FileTooLargeError);
    await expect(sandbox.files.read("/tmp/big", { maxBytes: 1024 })).rejects.toThrow(
      "cannot read /tmp/big: it has 2048 bytes, more than maxBytes (1024)",
    );
    expect((await sandbox.files.read("/tmp/big", { maxBytes: 4096 })).length).toBe(2048);
  });
});

describe("Modal's file handles (sandbox_filesystem)", () => {
  it("WriteAndReadBinaryFile, AppendToFileBinary, FileOpenModes: open() with modes and a position", async () => {
    await using sandbox = await create();
    const data = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const writer = await sandbox.files.open("/tmp/append.bin", "w");
    await writer.write(data);
    await writer.flush();
    await writer.close();
    const appender = await sandbox.files.open("/tmp/append.bin", "a");
    await appender.write(new Uint8Array([7, 8, 9, 10]));
    await appender.close();
    const reader = await sandbox.files.open("/tmp/append.bin", "r");
    expect([...(await reader.read(3))]).toEqual([1, 2, 3]);
    expect([...(await reader.read())]).toEqual([4, 5, 6, 7, 8, 9, 10, 7, 8, 9, 10]);
    await reader.close();
    await expect(reader.read()).rejects.toThrow(/closed/);
    await expect(writer.write(data)).rejects.toThrow(/closed/);
    const both = await sandbox.files.open("/tmp/append.bin", "r+");
    await both.seek(2);
    await both.write(new Uint8Array([0, 0]));
    await both.seek(0);
    expect([...(await both.read(5))]).toEqual([1, 2, 0, 0, 5]);
    await expect(sandbox.files.open("/tmp/missing.bin", "r")).rejects.toBeInstanceOf(NotFoundError);
  });

  it("WriteNonUint8ArrayThrowsTypeError: a handle writes bytes only", async () => {
    await using sandbox = await create();
    const handle = await sandbox.files.open("/tmp/typed.bin", "w");
    await expect(handle.write("hello" as unknown as Uint8Array)).rejects.toBeInstanceOf(TypeError);
  });

  it("watches a folder: create, modify and remove, until its timeout", async () => {
    await using sandbox = await create();
    await sandbox.files.mkdir("/tmp/watched");
    const events: { type: string; path: string }[] = [];
    const watching = (async () => {
      for await (const event of sandbox.files.watch("/tmp/watched", { recursive: true, timeoutMs: 3000 })) {
        events.push(event);
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await sandbox.files.write("/tmp/watched/new.txt", "hi");
    await sandbox.files.remove("/tmp/watched/new.txt");
    await watching;
    const seen = new Set(events.filter((e) => e.path === "/tmp/watched/new.txt").map((e) => e.type));
    expect([...seen].sort()).toEqual(["create", "modify", "remove"]);
  });

  it("copies files from and to this machine", async () => {
    const { mkdtemp, readFile, writeFile } = await import("node:fs/promises");
    const dir = await mkdtemp("/tmp/sandfleet-copy-");
    await writeFile(`${dir}/in.txt`, "local data");
    await using sandbox = await create();
    await sandbox.files.copyFromLocal(`${dir}/in.txt`, "/tmp/copied/in.txt");
    await sandbox.files.copyToLocal("/tmp/copied/in.txt", `${dir}/out.txt`);
    expect(await readFile(`${dir}/out.txt`, "utf8")).toBe("local data");
  });
});

describe("snapshots that expire", () => {
  it("are removed by the agent once their expiry has passed", async () => {
    await using sandbox = await create();
    const snapshot = await sandbox.snapshotFilesystem("short-lived", { expiresInMs: 1000 });
    const agent = sandfleet.agent({ app });
    expect((await agent.reconcileOnce()).filter((e) => e.action === "expired")).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(await agent.reconcileOnce()).toContainEqual({ action: "expired", detail: snapshot.imageRef });
    expect((await sandfleet.images.list({ app, kind: "snapshot" })).flatMap((i) => i.tags)).not.toContain(
      snapshot.imageRef,
    );
  });
});
