import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CommandExitError } from "../../provider/errors.ts";
import { Sandbox } from "../../provider/client/sandbox.ts";
import { cleanupApp, uniqueApp } from "../support/engine.ts";

describe("exec in a sandbox", () => {
  const app = uniqueApp();
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await Sandbox.create({ app, image: "sandfleet/python", user: "sandbox", env: { FROM_SANDBOX: "yes" } });
  });
  afterAll(() => cleanupApp(app));

  it("returns exit code, stdout and stderr separately", async () => {
    const result = await sandbox.run([
      "python3",
      "-c",
      "import sys, os; print('out', os.environ['FROM_SANDBOX']); print('err', file=sys.stderr); sys.exit(7)",
    ]);
    expect(result).toEqual({ exitCode: 7, stdout: "out yes\n", stderr: "err\n", timedOut: false });
  });

  it("takes env, workdir and user per command", async () => {
    const result = await sandbox.run(["sh", "-c", 'echo "$X $(pwd) $(id -u)"'], {
      env: { X: "x" },
      workdir: "/tmp",
      user: "root",
    });
    expect(result.stdout).toBe("x /tmp 0\n");
  });

  it("throws CommandExitError with the result when asked to check", async () => {
    const attempt = sandbox.run(["sh", "-c", "echo boom >&2; exit 2"], { check: true });
    await expect(attempt).rejects.toBeInstanceOf(CommandExitError);
    await expect(attempt).rejects.toMatchObject({ exitCode: 2, stderr: "boom\n" });
  });

  it("keeps large output intact", async () => {
    const result = await sandbox.run(["python3", "-c", "import sys; sys.stdout.write('x' * 5_000_000)"]);
    expect(result.stdout.length).toBe(5_000_000);
  });

  it("has no network but loopback", async () => {
    const result = await sandbox.run(["python3", "-c", "import socket; print(sorted(socket.if_nameindex()))"]);
    expect(result.stdout).toBe("[(1, 'lo')]\n");
  });
});
