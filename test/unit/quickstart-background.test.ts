/**
 * The quickstart's background builds (scripts/lib/background.sh), driven by a
 * small script of stand-in steps: they stop with the quickstart however it
 * stops, and one that fails stops it with its log instead of letting it go on
 * or hang.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { until } from "../support/until.ts";

const lib = new URL("../../scripts/lib/", import.meta.url).pathname;
let dir = "";

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "quickstart-background-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Whether a process lives (a zombie counts as gone). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${String(pid)}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** Runs a script after common.sh and background.sh, in a process group of its own, as a terminal runs a command. */
function script(body: string): { pid: number; done: Promise<{ code: number | null; stderr: string }> } {
  const file = join(dir, "script.sh");
  writeFileSync(
    file,
    `set -euo pipefail
source ${lib}common.sh
source ${lib}background.sh
trap background_stop EXIT
trap 'background_stop; exit 130' INT
logs=${dir}
${body}
`,
  );
  const child = spawn("bash", [file], { detached: true, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) => {
    child.on("close", (code) => {
      resolve({ code, stderr });
    });
  });
  return { pid: child.pid ?? 0, done };
}

/** A stand-in build: it records the pid of a long-running child of its own, then waits for it. */
const slowBuild = (name: string): string => `bash -c 'sleep 600 & echo $! >${dir}/${name}.pid; wait'`;
const builderPid = (name: string): number => Number(readFileSync(join(dir, `${name}.pid`), "utf8"));

describe("the quickstart's background builds", () => {
  it("Ctrl-C stops every background build and what it started, and says so", async () => {
    const run = script(`
background "$logs/a.log" "the first build" ${slowBuild("a")}
background "$logs/b.log" "the second build" ${slowBuild("b")}
touch "$logs/started"
sleep 600`);
    await until("both builds started", () =>
      Promise.resolve(["a.pid", "b.pid", "started"].every((f) => existsSync(join(dir, f)))),
    );
    const builders = [builderPid("a"), builderPid("b")];
    expect(builders.map(alive)).toEqual([true, true]);
    // Ctrl-C: SIGINT to the foreground process group.
    process.kill(-run.pid, "SIGINT");
    const { code, stderr } = await run.done;
    expect(code).toBe(130);
    expect(stderr).toContain("stopped what was building in the background: the first build, the second build");
    await until("the builds' own children gone", () => Promise.resolve(!builders.some(alive)), 10_000);
  });

  it("Ctrl-C during a quiet step whose command handles SIGINT itself (npm, apt) shows no error of that command", async () => {
    const run = script(`
background "$logs/a.log" "the first build" ${slowBuild("a")}
cat >"$logs/npm-step.sh" <<'STEP'
set -euo pipefail
source ${lib}common.sh
quiet bash -c 'trap "echo npm error signal SIGINT; exit 1" INT; touch ${dir}/npm.started; while :; do sleep 0.05; done'
STEP
# A step of its own, as scripts/lib/npm.sh is: a script with no Ctrl-C trap of its own.
bash "$logs/npm-step.sh"
echo "went on" >&2`);
    await until("the step started", () => Promise.resolve(existsSync(join(dir, "npm.started"))));
    process.kill(-run.pid, "SIGINT");
    const { code, stderr } = await run.done;
    expect(code).toBe(130);
    expect(stderr).not.toContain("npm error");
    expect(stderr).not.toContain("error: failed");
    expect(stderr).not.toContain("went on");
    expect(stderr).toContain("stopped what was building in the background: the first build");
  });

  it("a foreground step that fails stops the background builds too", async () => {
    const run = script(`
background "$logs/a.log" "the first build" ${slowBuild("a")}
until [[ -e "$logs/a.pid" ]]; do sleep 0.1; done
die "the engine did not start"`);
    const { code, stderr } = await run.done;
    expect(code).toBe(1);
    expect(stderr).toContain("bootstrap: error: the engine did not start");
    await until("the build's child gone", () => Promise.resolve(!alive(builderPid("a"))), 10_000);
  });

  it("a background build that fails stops the quickstart at the next step, with its log", async () => {
    const run = script(`
background "$logs/a.log" "the Pulumi CLI build" bash -c 'echo "go: module lookup disabled by GOPROXY=off"; exit 3'
until [[ -n "$(background_status "$job")" ]]; do sleep 0.1; done
background_check
echo "went on" >&2`);
    const { code, stderr } = await run.done;
    expect(code).toBe(1);
    expect(stderr).toContain("go: module lookup disabled by GOPROXY=off");
    expect(stderr).toContain(
      `bootstrap: error: the Pulumi CLI build failed in the background (exit 3; log: ${dir}/a.log)`,
    );
    expect(stderr).not.toContain("went on");
  });

  it("waiting for a build that was killed from outside stops instead of hanging", async () => {
    const run = script(`
background "$logs/a.log" "the Pulumi CLI build" ${slowBuild("a")}
until [[ -e "$logs/a.pid" ]]; do sleep 0.1; done
kill -KILL -- "-\${background_pids[$job]}"
background_wait "$job" "4–6 minutes"
echo "went on" >&2`);
    const { code, stderr } = await run.done;
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /bootstrap: waiting for the Pulumi CLI build \(\d+ s in; it has run \d+ s and usually takes 4–6 minutes; log: /,
    );
    expect(stderr).toContain("bootstrap: error: the Pulumi CLI build failed in the background (exit 143");
    expect(stderr).not.toContain("went on");
  });

  it("a build left running by a run killed outright writes neither into the next run's log nor its status", async () => {
    const killed = script(`
background "$logs/a.log" "the Pulumi CLI build" bash -c 'echo $$ >${dir}/old.pid; until [[ -e ${dir}/go-old ]]; do sleep 0.05; done; echo "the old build line"'
sleep 600`);
    await until("the old build started", () => Promise.resolve(existsSync(join(dir, "old.pid"))));
    // Killed outright, with its foreground, as `kill -9` of its process group does: the build, in a group of its own, lives on.
    process.kill(-killed.pid, "SIGKILL");
    await killed.done;
    const next = script(`
background "$logs/a.log" "the Pulumi CLI build" bash -c 'echo "the new build line"; until [[ -e ${dir}/go-new ]]; do sleep 0.05; done; exit 5'
touch "$logs/next-started"
background_wait "$job" "4–6 minutes"`);
    await until("the next run started", () => Promise.resolve(existsSync(join(dir, "next-started"))));
    // The old build ends (successfully) while the next run waits for its own.
    writeFileSync(join(dir, "go-old"), "");
    await until("the old build gone", () =>
      Promise.resolve(!alive(Number(readFileSync(join(dir, "old.pid"), "utf8")))),
    );
    writeFileSync(join(dir, "go-new"), "");
    const { code, stderr } = await next.done;
    expect(code).toBe(1);
    expect(stderr).toContain("the Pulumi CLI build failed in the background (exit 5");
    expect(readFileSync(join(dir, "a.log"), "utf8")).toBe("the new build line\n");
  });

  it("waiting for a build that succeeds goes on", async () => {
    const run = script(`
background "$logs/a.log" "the python image build" bash -c 'echo built'
background_wait "$job" "40–80 s"
echo "went on" >&2`);
    const { code, stderr } = await run.done;
    expect(code).toBe(0);
    expect(stderr).toContain("went on");
    expect(readFileSync(join(dir, "a.log"), "utf8")).toBe("built\n");
  });
});
