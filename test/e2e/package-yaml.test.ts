// What a new user does with a YAML-only project: install the packed tarball
// into a project of their own, outside this checkout, and drive it with the
// installed `sandfleet` command.
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupApp, leftovers, NOTHING, uniqueApp } from "../support/engine.ts";
import { packedForFile } from "../support/packed.ts";
import { runCommand } from "../support/run.ts";

const packed = packedForFile();

describe("a YAML-only project with the installed sandfleet command", () => {
  const app = uniqueApp("pkgyaml");
  let dir = "";
  let env: Record<string, string> = {};
  const bin = () => join(dir, "node_modules/.bin/sandfleet");

  beforeAll(async () => {
    dir = await packed.project("yaml-stack", {
      "Pulumi.yaml": ["name: pkg-yaml", "runtime: nodejs", "main: index.js", ""].join("\n"),
      "index.js": 'export { sandfleetProgram as default } from "sandfleet/pulumi";\n',
      "sandfleet.yaml": [
        `app: ${app}`,
        "pools:",
        "  shell:",
        "    replicas: 1",
        "    template:",
        "      image: sandfleet/busybox",
        "      user: sandbox",
        "",
      ].join("\n"),
    });
    env = { PULUMI_BACKEND_URL: `file://${mkdtempSync(join(packed.work, "state-"))}` };
  });

  afterAll(async () => {
    await runCommand(bin(), ["destroy", "--stack", "test"], { cwd: dir, env });
    await cleanupApp(app);
  });

  it("validates, goes up, claims and execs, previews no change and is destroyed", async () => {
    const run = (args: string[]) => runCommand(bin(), args, { cwd: dir, env });
    const noChange = async () => {
      const preview = await run(["preview", "--stack", "test", "--", "--expect-no-changes"]);
      expect(preview.code, preview.stdout + preview.stderr).toBe(0);
    };
    expect((await run(["validate"])).stdout).toContain("valid");
    const up = await run(["up", "--stack", "test"]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    await noChange();

    const pools = JSON.parse((await run(["pools", "--app", app, "--json"])).stdout) as unknown[];
    expect(pools).toEqual([expect.objectContaining({ app, name: "shell", replicas: 1, ready: 1 })]);

    const claimed = await run(["claim", `${app}/shell`, "--wait", "30s"]);
    expect(claimed.code, claimed.stderr).toBe(0);
    const id = claimed.stdout.trim();
    const exec = await run(["exec", id, "--", "sh", "-c", "echo hello from $(id -un); exit 3"]);
    expect(exec).toMatchObject({ code: 3, stdout: "hello from sandbox\n" });
    await run(["terminate", id, "--rm"]);
    expect((await run(["agent", "--once", "--app", app])).code).toBe(0);
    await noChange();
    const destroy = await run(["destroy", "--stack", "test"]);
    expect(destroy.code, destroy.stdout + destroy.stderr).toBe(0);
    expect(await leftovers(app)).toEqual(NOTHING);
  });
});
