/**
 * Bootstrap steps that change what the whole machine shares take turns
 * (one_at_a_time in scripts/lib/common.sh): two clones' quickstarts at once
 * never run them side by side, and a daemon a step leaves running does not
 * keep the next step waiting.
 */
import { execFile, spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { until } from "../support/until.ts";

const run = promisify(execFile);
const common = new URL("../../scripts/lib/common.sh", import.meta.url).pathname;
let dir = "";

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "machine-lock-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A stand-in step: it notes its start, waits for `go-<who>` to exist, then notes its end; its run as `a` may leave a daemon behind. */
function writeStep(daemon: boolean): string {
  const step = join(dir, "step.sh");
  writeFileSync(
    step,
    `set -euo pipefail
source ${common}
one_at_a_time engine "the engine's set-up" "$@"
echo "start $1" >>${dir}/events
${daemon ? `[[ $1 != a ]] || { sleep 600 </dev/null >/dev/null 2>&1 & echo $! >${dir}/daemon.pid; }` : ""}
until [[ -e ${dir}/go-$1 ]]; do sleep 0.05; done
echo "end $1" >>${dir}/events
`,
  );
  return step;
}

function start(step: string, who: string): Promise<{ code: number | null; stderr: string }> {
  const child = spawn("bash", [step, who], {
    env: { ...process.env, SANDFLEET_CACHE: dir },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve) => {
    child.on("close", (code) => {
      resolve({ code, stderr });
    });
  });
}

const events = (): string[] =>
  existsSync(join(dir, "events")) ? readFileSync(join(dir, "events"), "utf8").trim().split("\n") : [];

describe("one_at_a_time", () => {
  it("a second run of a step waits for the first, and says so", async () => {
    const step = writeStep(false);
    const first = start(step, "a");
    await until("the first run started", () => Promise.resolve(events().includes("start a")));
    const second = start(step, "b");
    await until("the second run waiting on the lock", async () => {
      const { stdout } = await run("ps", ["-eo", "args"]);
      return stdout.includes(`flock -o ${dir}/.engine.lock bash ${step} b`);
    });
    appendFileSync(join(dir, "go-b"), "");
    appendFileSync(join(dir, "go-a"), "");
    expect((await first).code).toBe(0);
    const { code, stderr } = await second;
    expect(code).toBe(0);
    expect(stderr).toContain("bootstrap: waiting for the engine's set-up under way elsewhere on this machine");
    expect(events()).toEqual(["start a", "end a", "start b", "end b"]);
  });

  it("a daemon the step started does not hold the lock", async () => {
    const step = writeStep(true);
    appendFileSync(join(dir, "go-a"), "");
    appendFileSync(join(dir, "go-b"), "");
    expect((await start(step, "a")).code).toBe(0);
    const daemon = Number(readFileSync(join(dir, "daemon.pid"), "utf8"));
    try {
      const { code, stderr } = await start(step, "b");
      expect(code).toBe(0);
      expect(stderr).not.toContain("waiting");
    } finally {
      process.kill(daemon);
    }
  });
});
