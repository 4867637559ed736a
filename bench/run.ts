// `npm run bench`: measures sandfleet against the floor the engine and Pulumi set, and writes BENCHMARKS.md.
import { readFileSync, writeFileSync } from "node:fs";
import { idleCeiling } from "./ceiling-scenarios.ts";
import { checkpointRestore } from "./checkpoint-scenarios.ts";
import { cliSpeed } from "./cli-scenarios.ts";
import { dashboardLatency } from "./dashboard-scenarios.ts";
import { machine, settle, type Figure } from "./measure.ts";
import { pulumiPool } from "./pulumi-scenarios.ts";
import { benchmarksMarkdown } from "./report.ts";
import { egressOverhead } from "./egress-scenarios.ts";
import {
  kubernetesAgentClaims,
  kubernetesClaims,
  kubernetesCli,
  kubernetesColdSandboxes,
  kubernetesNodeLoss,
  stopCluster,
} from "./kubernetes-scenarios.ts";
import { lifecycle } from "./lifecycle-scenarios.ts";
import { installedSize } from "./package-scenarios.ts";
import { coldSandbox, execThroughput, scaling, storageCost, warmClaim } from "./scenarios.ts";

// `node bench/run.ts --only NAME[,NAME]` runs those scenarios alone (names: the `step` keys below) and prints
// their figures without rewriting BENCHMARKS.md; `--sizes 10,500` picks the scaling sizes, `--ceiling 300`
// the real pool the idle-sandbox ceiling is projected from.
const option = (name: string) => {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
};
const quick = process.argv.includes("--quick");
const only = option("--only")?.split(",");
const sizes = option("--sizes")?.split(",").map(Number);
const ceilingSize = Number(option("--ceiling") ?? (quick ? 20 : 300));
const runs = quick ? 5 : 15;
const figures: Figure[] = [];
const keys: string[] = [];
const step = async (key: string, what: string, scenario: () => Promise<Figure[]>) => {
  keys.push(key);
  if (only && !only.includes(key)) return;
  await settle();
  process.stdout.write(`bench: ${what}... `);
  const started = performance.now();
  const found = await scenario();
  figures.push(...found);
  console.log(`${((performance.now() - started) / 1000).toFixed(0)} s`);
  for (const f of found)
    console.log(
      `  ${f.name}: ${f.value.toFixed(1)} ${f.unit}${f.baseline ? ` (baseline ${f.baseline.toFixed(1)})` : ""}${only && f.note ? ` — ${f.note}` : ""}`,
    );
};

await step("size", "installed size", () => installedSize());
await step("cli", "the CLI", () => cliSpeed(runs));
await step("cold", "cold sandboxes", () => coldSandbox(runs));
await step("storage", "storage", () => storageCost(runs));
await step("claims", "warm claims", () => warmClaim(runs));
await step("exec", "exec round trips", () => execThroughput(runs * 2));
await step("pause", "pause and resume", () => lifecycle(runs));
await step("checkpoint", "checkpoint and restore on the current engine", () => checkpointRestore(quick ? 3 : 5));
await step("egress", "egress allowlists", () => egressOverhead(runs));
await step("pulumi", "pulumi up of a pool of 20, memory", () => pulumiPool());
await step("scaling", "scaling", () => scaling(sizes ?? (quick ? [10] : [10, 50, 100, 250, 500])));
await step("ceiling", "the idle-sandbox ceiling", () => idleCeiling(ceilingSize));
await step("dashboard", "the dashboard's update latency", () => dashboardLatency(quick ? 20 : 200, quick ? 3 : 5));
await step("kubernetes-cold-sandboxes", "Kubernetes cold sandboxes", () => kubernetesColdSandboxes(runs));
await step("kubernetes-claims", "Kubernetes claims", () => kubernetesClaims(runs));
await step("kubernetes-cli", "the CLI on Kubernetes", () => kubernetesCli(runs));
await step("kubernetes-agent-claims", "Kubernetes claims with the in-cluster agent", () => kubernetesAgentClaims());
// Last: it takes a node away for a while.
await step("kubernetes-node-loss", "Kubernetes node loss", () => kubernetesNodeLoss(quick ? 1 : 3));
await stopCluster();

if (only) {
  const unknown = only.filter((name) => !keys.includes(name));
  if (unknown.length > 0) {
    console.error(`bench: no scenario named ${unknown.join(", ")}; the scenarios are: ${keys.join(", ")}`);
    process.exit(2);
  }
  process.exit(0); // a part of the run: BENCHMARKS.md is only ever written whole
}

const notesPath = new URL("./notes.md", import.meta.url);
const notes = readFileSync(notesPath, "utf8").trim().split("\n");
writeFileSync(
  new URL("../BENCHMARKS.md", import.meta.url),
  benchmarksMarkdown(await machine(), figures, notes, new Date()),
);
console.log("bench: wrote BENCHMARKS.md");
