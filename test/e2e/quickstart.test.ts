import { randomBytes } from "node:crypto";
import { containerName } from "../../provider/runtime/engine-state/names.ts";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandbox } from "../../provider/client/sandbox.ts";
import { cleanupApp, docker, leftovers, NOTHING, uniqueApp } from "../support/engine.ts";
import { PulumiStack } from "../support/pulumi.ts";

const projectDir = new URL("../../examples/quickstart/", import.meta.url).pathname;
const SANDBOX_TYPE = "pulumi-nodejs:dynamic/sandfleet:Sandbox";

// The quickstart itself, under a unique app name so that it cannot touch a
// quickstart someone is running on the same engine.
describe("pulumi up of the quickstart, with the real pulumi CLI", () => {
  const app = uniqueApp("qs");
  const specDir = mkdtempSync(join(tmpdir(), "sandfleet-e2e-spec-"));
  const specFile = join(specDir, "sandfleet.yaml");
  const stack = new PulumiStack(projectDir, `e2e-${randomBytes(4).toString("hex")}`);

  beforeAll(async () => {
    const spec = readFileSync(join(projectDir, "sandfleet.yaml"), "utf8").replace(/^app: .*$/m, `app: ${app}`);
    writeFileSync(specFile, spec);
    await stack.init({ "sandfleet:file": specFile });
  });
  afterAll(async () => {
    await stack.dispose();
    await cleanupApp(app);
    rmSync(specDir, { recursive: true, force: true });
  });

  async function sandboxIds(): Promise<Record<string, string>> {
    return (await stack.outputs()).sandboxes as Record<string, string>;
  }

  it("creates the sandboxes, locked down and labelled", async () => {
    const up = await stack.run(["up", "--yes", "--skip-preview"]);
    expect(up.stdout).toMatch(/\+ 4 created/);
    const ids = await sandboxIds();
    expect(Object.keys(ids).sort()).toEqual(["hello", "python"]);

    const hello = await docker.containers.inspect(ids.hello ?? "");
    expect(hello).toMatchObject({
      name: containerName(app, "hello"),
      running: true,
      networkMode: "none",
      capDrop: ["ALL"],
      securityOpt: ["no-new-privileges"],
      privileged: false,
      memoryBytes: 128 * 1024 * 1024,
      pidsLimit: 64,
      nanoCpus: 500_000_000,
      user: "sandbox",
    });
    expect(hello?.labels).toMatchObject({
      "sandfleet.managed": "true",
      "sandfleet.app": app,
      "sandfleet.kind": "sandbox",
      "sandfleet.name": "hello",
      "sandfleet.tag.example": "quickstart",
    });
    const python = await docker.containers.inspect(ids.python ?? "");
    expect(python).toMatchObject({ runtime: "runsc", readOnlyRootfs: true, memoryBytes: 256 * 1024 * 1024 });
  });

  it("runs commands in them and prints the output", async () => {
    const ids = await sandboxIds();
    const hello = await Sandbox.fromId(ids.hello ?? "");
    expect(await hello.run(["sh", "-c", 'echo "$GREETING"; id -un'])).toEqual({
      exitCode: 0,
      stdout: "hello from a sandfleet sandbox\nsandbox\n",
      stderr: "",
      timedOut: false,
    });
    const python = await Sandbox.fromId(ids.python ?? "");
    const result = await python.run(["python3", "-c", "print(sum(range(10)))"]);
    expect(result).toMatchObject({ exitCode: 0, stdout: "45\n", stderr: "" });
  });

  it("previews no changes right after up", async () => {
    const preview = await stack.run(["preview", "--expect-no-changes"]);
    expect(preview.stdout).toMatch(/4 unchanged/);
  });

  it("sees a sandbox removed behind its back on refresh, and recreates it on the next up", async () => {
    const before = await sandboxIds();
    await docker.containers.remove(before.hello ?? "");

    const refresh = await stack.run(["refresh", "--yes", "--skip-preview"]);
    expect(refresh.stdout).toMatch(/hello\s+deleted/);
    expect(await stack.resourceNames(SANDBOX_TYPE)).toEqual(["sandbox-python"]);

    const up = await stack.run(["up", "--yes", "--skip-preview"]);
    expect(up.stdout).toMatch(/\+ 1 created/);
    const after = await sandboxIds();
    expect(after.hello).not.toBe(before.hello);
    expect(after.python).toBe(before.python);
    expect((await docker.containers.inspect(after.hello ?? ""))?.running).toBe(true);
    await stack.run(["preview", "--expect-no-changes"]);
  });

  it("sees a sandbox that stopped on refresh, and brings it back on the next up", async () => {
    const before = await sandboxIds();
    await docker.containers.kill(before.hello ?? "", "SIGKILL");
    await stack.run(["refresh", "--yes", "--skip-preview"]);
    const preview = await stack.run(["preview"]);
    expect(preview.stdout).toMatch(/sandbox-hello\s+replace/);
    await stack.run(["up", "--yes", "--skip-preview"]);
    const after = await sandboxIds();
    expect(after.hello).not.toBe(before.hello);
    expect((await docker.containers.inspect(after.hello ?? ""))?.running).toBe(true);
    await stack.run(["preview", "--expect-no-changes"]);
  });

  it("fails a broken sandfleet.yaml before touching anything, saying where", async () => {
    const good = readFileSync(specFile, "utf8");
    writeFileSync(specFile, good.replace("memory: 128Mi", "memory: 128MB"));
    try {
      const preview = await stack.run(["up", "--yes", "--skip-preview"], { allowFailure: true });
      expect(preview.code).not.toBe(0);
      expect(preview.stdout).toMatch(
        /sandfleet\.yaml:\d+:\d+ {2}sandboxes\.hello\.memory: "128MB" must be a size like 512Mi/,
      );
      expect(preview.stdout).not.toMatch(/(created|updated|deleted|replaced)/);
    } finally {
      writeFileSync(specFile, good);
    }
    await stack.run(["preview", "--expect-no-changes"]);
  });

  it("destroys everything it made", async () => {
    await stack.run(["destroy", "--yes", "--skip-preview"]);
    expect(await leftovers(app)).toEqual(NOTHING);
  });
});
