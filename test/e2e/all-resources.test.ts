import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupApp, docker, leftovers, NOTHING, uniqueApp } from "../support/engine.ts";
import { PulumiStack } from "../support/pulumi.ts";

const projectDir = new URL("../../examples/typescript/", import.meta.url).pathname;

interface Outputs {
  imageRef: string;
  volumeName: string;
  workerId: string;
  snapshotRef: string;
  cloneId: string;
  secretKeys: string[];
}

// The TypeScript example: App, Image, Volume, Secret, Sandbox and Snapshot in
// one stack, driven one field at a time through the real pulumi CLI.
describe("a stack of all six resources, with the real pulumi CLI", () => {
  const app = uniqueApp("all");
  const sourceDir = mkdtempSync(join(tmpdir(), "sandfleet-e2e-src-"));
  const firstSecret = `first-${randomBytes(8).toString("hex")}`;
  const secondSecret = `second-${randomBytes(8).toString("hex")}`;
  const stack = new PulumiStack(projectDir, `e2e-${randomBytes(4).toString("hex")}`);
  const printed: string[] = [];

  async function pulumi(...args: string[]) {
    const result = await stack.run(args);
    printed.push(result.stdout, result.stderr);
    return result;
  }
  const outputs = async () => (await stack.outputs()) as unknown as Outputs;
  const exec = async (id: string, script: string) => (await docker.exec.run(id, { argv: ["sh", "-c", script] })).stdout;

  beforeAll(async () => {
    cpSync(join(projectDir, "tools"), join(sourceDir, "tools"), { recursive: true });
    await stack.init({ app, sourceDir });
    await stack.run(["config", "set", "--secret", "apiKey", firstSecret]);
  });
  afterAll(async () => {
    await stack.dispose();
    await cleanupApp(app);
    rmSync(sourceDir, { recursive: true, force: true });
  });

  it("creates all of them, the snapshot feeding the second sandbox", async () => {
    const up = await pulumi("up", "--yes", "--skip-preview");
    expect(up.stdout).toMatch(/\+ 8 created/);
    expect(up.stdout).toMatch(/\[image tools\] Step 2\/\d+ : COPY/);
    const out = await outputs();
    expect(out.imageRef).toMatch(new RegExp(`^sandfleet/${app}/tools:[0-9a-f]{16}$`));
    expect(out.secretKeys).toEqual(["API_KEY"]);

    expect(await exec(out.workerId, 'echo "$API_KEY"; python3 /opt/tools/tool.py works; echo kept > /data/file')).toBe(
      `${firstSecret}\ntool says: works\n`,
    );
    expect(await exec(out.cloneId, "cat /home/sandbox/seed; python3 /opt/tools/tool.py cloned")).toBe(
      "seeded\ntool says: cloned\n",
    );
    // The snapshot is of the filesystem only: no secret rides along into the clone.
    expect(await exec(out.cloneId, 'echo "[$API_KEY]"')).toBe("[]\n");
    expect((await docker.volumes.inspect(out.volumeName))?.labels).toMatchObject({ "sandfleet.app": app });
  });

  it("previews no changes after up", async () => {
    await pulumi("preview", "--expect-no-changes");
  });

  it("updates memory in place, touching nothing else", async () => {
    const before = await outputs();
    await stack.run(["config", "set", "workerMemoryMiB", "320"]);
    const preview = await pulumi("preview", "--diff");
    expect(preview.stdout).toMatch(/~ memoryMiB\s*: 256 => 320/);
    expect(preview.stdout).toMatch(/~ 1 to update/);
    expect(preview.stdout).not.toMatch(/to replace/);
    await pulumi("up", "--yes", "--skip-preview");
    const after = await outputs();
    expect(after).toEqual(before);
    expect((await docker.containers.inspect(after.workerId))?.memoryBytes).toBe(320 * 1024 * 1024);
  });

  it("replaces exactly the sandboxes that use a secret whose value changed, printing no value", async () => {
    const before = await outputs();
    await stack.run(["config", "set", "--secret", "apiKey", secondSecret]);
    const preview = await pulumi("preview", "--diff");
    expect(preview.stdout).toMatch(/\+-\s*pulumi-nodejs:dynamic\/sandfleet:Sandbox: \(replace\)/);
    const up = await pulumi("up", "--yes", "--skip-preview");
    expect(up.stdout).toMatch(/~ 1 updated/);
    expect(up.stdout).toMatch(/\+-3 replaced/);
    const after = await outputs();
    expect(after.workerId).not.toBe(before.workerId);
    expect(after.imageRef).toBe(before.imageRef);
    expect(after.volumeName).toBe(before.volumeName);
    expect(await exec(after.workerId, 'echo "$API_KEY"; cat /data/file')).toBe(`${secondSecret}\nkept\n`);
  });

  it("rebuilds the image when a copied file changes, and only then", async () => {
    const before = await outputs();
    writeFileSync(join(sourceDir, "tools", "tool.py"), 'print("tool v2")\n');
    await pulumi("up", "--yes", "--skip-preview");
    const after = await outputs();
    expect(after.imageRef).not.toBe(before.imageRef);
    expect(await exec(after.workerId, "python3 /opt/tools/tool.py; cat /data/file")).toBe("tool v2\nkept\n");
    // The image it replaced is gone: nothing uses it any more.
    expect(await docker.images.inspect(before.imageRef)).toBeUndefined();
    await pulumi("preview", "--expect-no-changes");
  });

  it("sees damage done behind its back on refresh and repairs it on up", async () => {
    const before = await outputs();
    await docker.containers.remove(before.cloneId);
    await docker.containers.update(before.workerId, { memoryBytes: 200 * 1024 * 1024 });
    const refresh = await pulumi("refresh", "--yes", "--skip-preview");
    expect(refresh.stdout).toMatch(/clone\s+deleted/);
    expect(refresh.stdout).toMatch(/worker\s+updated/);
    const up = await pulumi("up", "--yes", "--skip-preview");
    expect(up.stdout).toMatch(/\+ 1 created/);
    expect(up.stdout).toMatch(/~ 1 updated/);
    const after = await outputs();
    expect(after.workerId).toBe(before.workerId);
    expect((await docker.containers.inspect(after.workerId))?.memoryBytes).toBe(320 * 1024 * 1024);
    expect(await exec(after.cloneId, "cat /home/sandbox/seed")).toBe("seeded\n");
    await pulumi("preview", "--expect-no-changes");
  });

  it("keeps every secret value out of the state file and out of everything it printed", async () => {
    const state = (await stack.run(["stack", "export"])).stdout;
    expect(state).toContain("ciphertext");
    for (const value of [firstSecret, secondSecret]) {
      expect(state).not.toContain(value);
      expect(printed.join("\n")).not.toContain(value);
    }
  });

  it("destroys everything: containers, network, volume and images", async () => {
    await pulumi("destroy", "--yes", "--skip-preview");
    expect(await leftovers(app)).toEqual(NOTHING);
  });
});
