import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AlreadyExistsError,
  DirectoryNotEmptyError,
  FileTooLargeError,
  IsADirectoryError,
  NotADirectoryError,
  NotFoundError,
} from "../../provider/errors.ts";
import type { SandboxProcess } from "../../provider/runtime/commands/process.ts";
import { Sandbox } from "../../provider/client/sandbox.ts";
import { cleanupApp, uniqueApp } from "../support/engine.ts";

/** Resolves once the process has written `text` on stdout. */
function waitForOutput(process: SandboxProcess, text: string): Promise<string> {
  let seen = "";
  return new Promise((resolve) => {
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes(text)) {
        process.stdout.off("data", onData);
        resolve(seen);
      }
    };
    process.stdout.on("data", onData);
  });
}

const running = (sandbox: Sandbox) =>
  sandbox.run(["sh", "-c", "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done"]).then((r) => r.stdout);

// One suite, two paths: what a command sees and reports is the same whether
// the sandbox's supervisor runs it or the engine's exec does.
describe.each([
  { path: "the supervisor", supervisor: true },
  { path: "the engine's exec", supervisor: false },
])("exec and files through $path", ({ supervisor }) => {
  const app = uniqueApp("parity");
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await Sandbox.create({ app, image: "sandfleet/python", user: "sandbox", supervisor });
    expect((await sandbox.state()).supervised).toBe(supervisor);
  });
  afterAll(() => cleanupApp(app));

  it("streams stdin and keeps stdout and stderr apart", async () => {
    const process = await sandbox.exec(["sh", "-c", "cat; echo to-stderr >&2"], { stdin: true });
    process.stdin.write("hello ");
    process.stdin.end("world");
    expect(await process.output()).toMatchObject({ exitCode: 0, stdout: "hello world", stderr: "to-stderr\n" });
  });

  it("reports a command's exit code, and 128 + n when signal n ended it", async () => {
    expect((await sandbox.run(["sh", "-c", "exit 42"])).exitCode).toBe(42);
    expect((await sandbox.run(["sh", "-c", "kill -TERM $$"])).exitCode).toBe(143);
  });

  it("sends a signal to the command, which can handle it", async () => {
    const process = await sandbox.exec([
      "sh",
      "-c",
      "trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.1; done",
    ]);
    await waitForOutput(process, "ready");
    await process.signal(15);
    expect(await process.wait()).toBe(7);
    expect(process.reason).toBeUndefined();
  });

  it("kill ends the command and everything it started", async () => {
    const process = await sandbox.exec(["sh", "-c", "sleep 301 & echo ready; sleep 302"]);
    await waitForOutput(process, "ready");
    await process.kill();
    expect(await process.wait()).toBe(137);
    expect(process.reason).toBe("killed");
    expect(await running(sandbox)).not.toMatch(/sleep 30[12]/);
  });

  it("a timeout ends grandchildren that left the session, with 137 and timedOut", async () => {
    const result = await sandbox.run(["sh", "-c", "setsid sleep 303 & sleep 304"], { timeoutMs: 1000 });
    expect(result).toMatchObject({ exitCode: 137, timedOut: true, reason: "timeout" });
    expect(await running(sandbox)).not.toMatch(/sleep 30[34]/);
  });

  it("passes env and workdir to the command", async () => {
    const result = await sandbox.run(["sh", "-c", 'echo "$GREETING"; pwd'], {
      env: { GREETING: "hi" },
      workdir: "/tmp",
    });
    expect(result.stdout).toBe("hi\n/tmp\n");
  });

  it("reports a command that cannot start as a shell would", async () => {
    expect(await sandbox.run(["no-such-command"])).toMatchObject({
      exitCode: 127,
      stdout: "",
      stderr: "sandfleet: command not found: no-such-command\n",
    });
    expect(await sandbox.run(["true"], { workdir: "/no/such/dir" })).toMatchObject({
      exitCode: 126,
      stderr: "sandfleet: working directory does not exist: /no/such/dir\n",
    });
  });

  it("runs a command on a terminal of the size asked for, and passes a resize on", async () => {
    const process = await sandbox.exec(
      ["sh", "-c", "stty size; trap 'stty size; exit 0' WINCH; echo ready; while :; do sleep 0.1; done"],
      { pty: { rows: 33, cols: 101 } },
    );
    const before = await waitForOutput(process, "ready");
    expect(before).toContain("33 101");
    await process.resize({ rows: 40, cols: 120 });
    expect(await waitForOutput(process, "40 120")).toContain("40 120");
    expect(await process.wait()).toBe(0);
  });

  it("writes and reads bytes in every form, and refuses a read over its cap", async () => {
    const bytes = Uint8Array.from([0, 1, 2, 253, 254, 255]);
    await sandbox.files.write("/tmp/parity/deep/bytes.bin", bytes);
    expect([...(await sandbox.files.read("/tmp/parity/deep/bytes.bin"))]).toEqual([...bytes]);
    await sandbox.files.write("/tmp/parity/buffer.bin", bytes.buffer);
    expect((await sandbox.files.read("/tmp/parity/buffer.bin")).length).toBe(6);
    await expect(sandbox.files.read("/tmp/parity/deep/bytes.bin", { maxBytes: 5 })).rejects.toThrow(
      new FileTooLargeError("cannot read /tmp/parity/deep/bytes.bin: it has 6 bytes, more than maxBytes (5)"),
    );
  });

  it("lists, stats, makes and removes paths with typed errors", async () => {
    await sandbox.files.write("/tmp/lst/a.txt", "abc");
    await sandbox.run(["ln", "-s", "/tmp/lst/a.txt", "/tmp/lst/link"], { check: true });
    expect(await sandbox.files.list("/tmp/lst")).toEqual([
      { name: "a.txt", type: "file", sizeBytes: 3 },
      { name: "link", type: "symlink", sizeBytes: 14, target: "/tmp/lst/a.txt" },
    ]);
    await expect(sandbox.files.list("/tmp/lst/a.txt")).rejects.toBeInstanceOf(NotADirectoryError);
    expect(await sandbox.files.stat("/tmp/lst/a.txt")).toMatchObject({ type: "file", sizeBytes: 3, mode: 0o644 });
    await expect(sandbox.files.read("/tmp/lst")).rejects.toBeInstanceOf(IsADirectoryError);
    await expect(sandbox.files.read("/tmp/lst/missing")).rejects.toThrow(
      new NotFoundError("cannot read /tmp/lst/missing: no such file or folder"),
    );
    await expect(sandbox.files.write("/tmp/lst", "x")).rejects.toBeInstanceOf(IsADirectoryError);
    await expect(sandbox.files.mkdir("/tmp/lst/a.txt/sub")).rejects.toBeInstanceOf(NotADirectoryError);
    await expect(sandbox.files.mkdir("/tmp/lst/x/y", { parents: false })).rejects.toBeInstanceOf(NotFoundError);
    await sandbox.files.mkdir("/tmp/lst/x/y");
    await expect(sandbox.files.mkdir("/tmp/lst/x/y", { parents: false })).rejects.toBeInstanceOf(AlreadyExistsError);
    await expect(sandbox.files.remove("/tmp/lst/x")).rejects.toBeInstanceOf(DirectoryNotEmptyError);
    await sandbox.files.remove("/tmp/lst/x", { recursive: true });
    await expect(sandbox.files.remove("/tmp/lst/x")).rejects.toBeInstanceOf(NotFoundError);
    await sandbox.files.remove("/tmp/lst/x", { force: true });
    await sandbox.files.remove("/tmp/lst/link");
    expect((await sandbox.files.list("/tmp/lst")).map((e) => e.name)).toEqual(["a.txt"]);
  });
});
