/**
 * Two clones on one machine cannot both hold the quickstart (scripts/lib/quickstart-claim.sh):
 * their sandboxes are the same app on the same engine, and the second's `pulumi up` replaced
 * the first's. A clone whose quickstart runs, or whose stack is up, keeps the claim.
 */
import { execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const run = promisify(execFile);
const lib = new URL("../../scripts/lib/", import.meta.url).pathname;
let dir = "";

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "quickstart-claim-"));
  mkdirSync(join(dir, "cache"));
  mkdirSync(join(dir, "one"));
  mkdirSync(join(dir, "two"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Claims the quickstart for a clone, as scripts/quickstart does as it starts. */
async function claim(clone: string): Promise<{ code: number; stderr: string }> {
  const script = `set -euo pipefail; source ${lib}common.sh; source ${lib}quickstart-claim.sh; quickstart_claim`;
  try {
    const { stderr } = await run("bash", ["-c", script], {
      env: { ...process.env, SANDFLEET_CACHE: join(dir, "cache"), ROOT: join(dir, clone) },
    });
    return { code: 0, stderr };
  } catch (error) {
    const { code, stderr } = error as { code: number; stderr: string };
    return { code, stderr };
  }
}

/** Marks a clone's quickstart stack up, as the local file backend records it. */
function stackUp(clone: string): void {
  const stacks = join(dir, clone, ".pulumi-state/.pulumi/stacks/sandfleet-quickstart");
  mkdirSync(stacks, { recursive: true });
  writeFileSync(join(stacks, "quickstart.json"), "{}");
}

describe("the quickstart's claim on a machine", () => {
  it("a second clone may not start while the first's stack is up, and is told where to tear it down", async () => {
    expect((await claim("one")).code).toBe(0);
    stackUp("one");
    const { code, stderr } = await claim("two");
    expect(code).toBe(1);
    expect(stderr).toContain(`are another clone's stack, in ${dir}/one`);
    expect(stderr).toContain(`(cd ${dir}/one && npm run quickstart -- --destroy)`);
  });

  it("a second clone may not start while the first's quickstart runs", async () => {
    // A stand-in for the first clone's running quickstart: a process whose command is scripts/quickstart.
    mkdirSync(join(dir, "one/scripts"));
    writeFileSync(join(dir, "one/scripts/quickstart"), "sleep 600\n");
    // A process group of its own, so that its sleep goes with it.
    const running = spawn("bash", [join(dir, "one/scripts/quickstart")], { stdio: "ignore", detached: true });
    try {
      writeFileSync(join(dir, "cache/quickstart-clone"), `${dir}/one\n${String(running.pid)}\n`);
      const { code, stderr } = await claim("two");
      expect(code).toBe(1);
      expect(stderr).toContain(
        `the quickstart of another clone, ${dir}/one, is running on this machine (pid ${String(running.pid)})`,
      );
    } finally {
      process.kill(-(running.pid ?? 0), "SIGKILL");
    }
  });

  it("the claim passes on once the first clone's stack is torn down, or the clone is gone", async () => {
    expect((await claim("one")).code).toBe(0);
    stackUp("one");
    expect((await claim("two")).code).toBe(1);
    // npm run quickstart -- --destroy there: pulumi destroy --remove takes the stack's record.
    rmSync(join(dir, "one/.pulumi-state/.pulumi/stacks/sandfleet-quickstart/quickstart.json"));
    // The first clone's quickstart has ended: its pid names no process, and that is no error.
    expect(await claim("two")).toEqual({ code: 0, stderr: "" });
    stackUp("two");
    rmSync(join(dir, "two"), { recursive: true });
    expect((await claim("one")).code).toBe(0);
  });

  it("the same clone claims again", async () => {
    expect((await claim("one")).code).toBe(0);
    stackUp("one");
    expect((await claim("one")).code).toBe(0);
  });
});
