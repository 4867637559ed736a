import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PulumiStack } from "../test/support/pulumi.ts";
import { cleanupApp } from "../test/support/engine.ts";
import { spawn } from "node:child_process";
import { benchApp } from "./scenarios.ts";
import { docker, medianMs, pidsMatching, rssMiB, type Figure } from "./measure.ts";

const stacks = new URL("./stacks/", import.meta.url).pathname;
const cli = new URL("../provider/cli/main.ts", import.meta.url).pathname;

async function timed(action: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await action();
  return performance.now() - started;
}

/** Highest resident memory of matching processes while `action` runs. */
async function peakRss(pattern: RegExp, action: () => Promise<unknown>): Promise<number> {
  let peak = 0;
  const sampler = setInterval(() => {
    for (const pid of pidsMatching(pattern)) peak = Math.max(peak, rssMiB(pid));
  }, 50);
  try {
    await action();
  } finally {
    clearInterval(sampler);
  }
  return peak;
}

/** 4 and 5: `pulumi up` of a pool of 20, a no-change up, and memory while the pool runs. */
export async function pulumiPool(): Promise<Figure[]> {
  const app = benchApp();
  const pool = new PulumiStack(join(stacks, "pool20"), `bench-${app}`);
  const noop = new PulumiStack(join(stacks, "noop"), `bench-${app}`);
  const empty = new PulumiStack(join(stacks, "noop"), `bench-${app}-empty`);
  const figures: Figure[] = [];
  try {
    await pool.init({ "sandfleet:app": app });
    await noop.init();
    await empty.init({ "sandfleet-bench-noop:count": "0" });
    const upStartedMs = Date.now();
    const upMs = await timed(() => pool.run(["up", "--yes", "--skip-preview"]));
    const members = await memberWindowMs(app, upStartedMs, Date.now());
    const rawIds: string[] = [];
    const rawMs = await timed(async () => {
      const ids = await Promise.all(
        Array.from({ length: 20 }, () =>
          docker("run", "-d", "--network", "none", "--memory", "32m", "sandfleet/busybox", "sleep", "infinity"),
        ),
      );
      rawIds.push(...ids.map((id) => id.trim()));
    });
    await docker("rm", "-f", ...rawIds);
    figures.push({
      name: "pulumi up of a pool of 20, from nothing",
      value: upMs,
      unit: "ms",
      baselineName: "20 docker run -d, all at once",
      baseline: rawMs,
    });

    // Pulumi's own floor, from nothing: a program with no resource, and one with as many
    // do-nothing dynamic resources as the pool's stack (which starts the dynamic-provider plugin).
    const emptyUpMs = await timed(() => empty.run(["up", "--yes", "--skip-preview"]));
    const noopUpMs = await timed(() => noop.run(["up", "--yes", "--skip-preview"]));
    figures.push(
      {
        name: "pulumi up of a pool of 20, from nothing, against Pulumi's own floor",
        value: upMs,
        unit: "ms",
        baselineName: "up from nothing of as many do-nothing dynamic resources",
        baseline: noopUpMs,
        note: `an up of a program with no resource takes ${(emptyUpMs / 1000).toFixed(1)} s; Pulumi's floor alone is ${(noopUpMs / rawMs).toFixed(2)}x the 20 docker run -d`,
      },
      {
        name: "pulumi up of a pool of 20: the engine's part, first create to last member ready",
        value: members,
        unit: "ms",
        baselineName: "20 docker run -d, all at once",
        baseline: rawMs,
        note: "from the engine's events: creates, starts and the renames that mark members ready",
      },
    );
    const noChange = await medianMs(5, 1, async () => {
      await pool.run(["up", "--yes", "--skip-preview"]);
    });
    // Sampled in an up of its own: reading /proc while timing would slow what is timed.
    const providerPeak = await peakRss(/dynamic-provider/, () => pool.run(["up", "--yes", "--skip-preview"]));
    const noopNoChange = await medianMs(5, 1, async () => {
      await noop.run(["up", "--yes", "--skip-preview"]);
    });
    figures.push({
      name: "no-change pulumi up of the pool of 20",
      value: noChange,
      unit: "ms",
      baselineName: "no-change up, same number of do-nothing dynamic resources",
      baseline: noopNoChange,
      target: 1.5,
    });
    figures.push({
      name: "dynamic provider process, peak resident memory during up",
      value: providerPeak,
      unit: "MiB",
    });

    // An agent of the app, with a state directory of its own: an agent of every app would overlap the
    // queues of other agents on this machine, which then refuse to start.
    const stateDir = mkdtempSync(join(tmpdir(), "sandfleet-bench-agent-"));
    const agent = spawn(
      process.execPath,
      [cli, "agent", "--app", app, "--interval", "1s", "--json", "--state-dir", stateDir],
      { stdio: "ignore" },
    );
    await new Promise((resolve) => setTimeout(resolve, 5000));
    figures.push({
      name: "sandfleet agent, resident memory with a pool of 20",
      value: agent.pid ? rssMiB(agent.pid) : 0,
      unit: "MiB",
    });
    agent.kill("SIGTERM");

    const ids = (await docker("ps", "-q", "--filter", `label=sandfleet.app=${app}`)).trim().split("\n");
    const stats = await docker("stats", "--no-stream", "--format", "{{.MemUsage}}", ...ids);
    const usages = stats
      .trim()
      .split("\n")
      .map((line) => parseMiB(line.split("/")[0]?.trim() ?? "0"));
    const shims = pidsMatching(/containerd-shim/).reduce((sum, pid) => sum + rssMiB(pid), 0);
    figures.push({
      name: "engine-side memory per idle sandbox (container cgroup)",
      value: usages.reduce((a, b) => a + b, 0) / usages.length,
      unit: "MiB",
      note: `plus ${(shims / Math.max(1, pidsMatching(/containerd-shim/).length)).toFixed(1)} MiB of containerd-shim per container`,
    });
  } finally {
    await pool.dispose();
    await noop.dispose();
    await empty.dispose();
    await cleanupApp(app);
  }
  return figures;
}

function parseMiB(text: string): number {
  const match = /([\d.]+)\s*([KMG]i?B)/.exec(text);
  if (!match) return 0;
  const value = Number(match[1]);
  const unit = match[2] ?? "MiB";
  return unit.startsWith("K") ? value / 1024 : unit.startsWith("G") ? value * 1024 : value;
}

/** From the first container the engine made for the app to the last rename (a member made ready), by its events. */
async function memberWindowMs(app: string, sinceMs: number, untilMs: number): Promise<number> {
  const events = await docker(
    "events",
    "--since",
    (sinceMs / 1000).toFixed(3),
    "--until",
    (untilMs / 1000).toFixed(3),
    "--filter",
    `label=sandfleet.app=${app}`,
    "--filter",
    "type=container",
    "--format",
    "{{.TimeNano}} {{.Action}}",
  );
  const at = (action: string) =>
    events
      .trim()
      .split("\n")
      .filter((line) => line.split(" ")[1] === action)
      .map((line) => Number(BigInt(line.split(" ")[0] ?? "0") / 1_000_000n));
  return Math.max(...at("rename")) - Math.min(...at("create"));
}
