import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandbox } from "../../provider/client/sandbox.ts";
import { sandfleet } from "../support/cli.ts";
import { cleanupApp, docker, leftovers, NOTHING, warmMemberIds } from "../support/engine.ts";
import { exampleStack as exampleStackOn } from "../support/example-stack.ts";

const exampleStack = (example: string) => exampleStackOn(example, cleanupApp);

describe("the code-interpreter example, with the real pulumi CLI", () => {
  const example = exampleStack("code-interpreter");
  const secret = `model-key-${randomBytes(6).toString("hex")}`;
  beforeAll(async () => {
    await example.init();
    await example.stack.run(["config", "set", "--secret", "modelApiKey", secret]);
  });
  afterAll(() => example.dispose());

  it("brings up a ready pool of 3 whose members run cells and hold the secret", async () => {
    const up = await example.stack.run(["up", "--yes", "--skip-preview"]);
    expect(up.stdout).toMatch(/pools\s*:\s*\{\s*python: 3/);
    expect(await warmMemberIds(example.app, "python")).toHaveLength(3);
    const sandbox = await Sandbox.claim(example.app, "python");
    const cell = await sandbox.run(["python3", "/opt/tools/run_cell.py"], { input: "print(sum(range(101)))\n" });
    expect(cell).toMatchObject({ exitCode: 0, stdout: "5050\n" });
    expect((await sandbox.run(["sh", "-c", 'echo "$MODEL_API_KEY"; id -un; pwd'])).stdout).toBe(
      `${secret}\nsandbox\n/workspace\n`,
    );
    // A claimed member left the pool: that is how pools are used, not drift.
    await example.stack.run(["preview", "--expect-no-changes"]);
    // `sandfleet up` refills it from the stack's own state (its secret included) and says so.
    const again = await sandfleet(["up", "--stack", example.stack.stack, "-C", example.stack.projectDir], {
      env: { PULUMI_BACKEND_URL: `file://${example.stack.backendDir}`, PULUMI_CONFIG_PASSPHRASE: "" },
    });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stderr).toContain(`refilled pool ${example.app}/python: +1 -0`);
    expect(await warmMemberIds(example.app, "python")).toHaveLength(3);
    const refilled = await Sandbox.claim(example.app, "python");
    expect((await refilled.run(["sh", "-c", 'echo "$MODEL_API_KEY"'])).stdout).toBe(`${secret}\n`);
  });

  it("previews no changes after up", async () => {
    await example.stack.run(["preview", "--expect-no-changes"]);
  });

  it("scales 3 -> 5 -> 2 without replacing the members it keeps", async () => {
    const three = await warmMemberIds(example.app, "python");
    example.edit((t) => t.replace("replicas: 3", "replicas: 5"));
    const preview = await example.stack.run(["preview", "--diff"]);
    expect(preview.stdout).toMatch(/~ replicas\s*: 3 => 5/);
    expect(preview.stdout).toMatch(/~ 1 to update/);
    await example.stack.run(["up", "--yes", "--skip-preview"]);
    const five = await warmMemberIds(example.app, "python");
    expect(five).toHaveLength(5);
    expect(five).toEqual(expect.arrayContaining(three));

    example.edit((t) => t.replace("replicas: 5", "replicas: 2"));
    await example.stack.run(["up", "--yes", "--skip-preview"]);
    const two = await warmMemberIds(example.app, "python");
    expect(two).toHaveLength(2);
    expect(five).toEqual(expect.arrayContaining(two));
  });

  it("rolls a template change through, the preview showing that one field", async () => {
    const before = await warmMemberIds(example.app, "python");
    example.edit((t) => t.replace("memory: 256Mi", "memory: 192Mi"));
    const preview = await example.stack.run(["preview", "--diff"]);
    expect(preview.stdout).toMatch(/~ memoryMiB\s*: 256 => 192/);
    // The one field, inside the template: no other value changes.
    const changed = preview.stdout.split("\n").filter((line) => line.includes("=>"));
    expect(changed.map((line) => line.trim().replace(/\s+:/, ":"))).toEqual(["~ memoryMiB: 256 => 192"]);
    await example.stack.run(["up", "--yes", "--skip-preview"]);
    const after = await warmMemberIds(example.app, "python");
    expect(after).toHaveLength(2);
    expect(after.filter((id) => before.includes(id))).toEqual([]);
    for (const id of after) expect((await docker.containers.inspect(id))?.memoryBytes).toBe(192 * 1024 * 1024);
  });

  it("keeps the secret out of the state and destroys everything", async () => {
    expect((await example.stack.run(["stack", "export"])).stdout).not.toContain(secret);
    await example.stack.run(["destroy", "--yes", "--skip-preview"]);
    expect(await leftovers(example.app)).toEqual(NOTHING);
  });
});
