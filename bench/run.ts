// `npm run bench`: measures sandfleet against the floor the engine and Pulumi set, and writes BENCHMARKS.md.
import { readFileSync, writeFileSync } from "node:fs";
import { cliSpeed } from "./cli-scenarios.ts";
import { dashboardLatency } from "./dashboard-scenarios.ts";
import { machine, settle, type Figure } from "./measure.ts";
import { pulumiPool } from "./pulumi-scenarios.ts";
import { benchmarksMarkdown } from "./report.ts";
import { egressOverhead } from "./egress-scenarios.ts";
import { kubernetesClaims, kubernetesColdSandboxes } from "./kubernetes-scenarios.ts";
import { lifecycle } from "./lifecycle-scenarios.ts";
import { installedSize } from "./package-scenarios.ts";
import { coldSandbox, execThroughput, scaling, storageCost, warmClaim } from "./scenarios.ts";

const quick = process.argv.includes("--quick");
// `--only NAME` runs the one scenario of that name (the words of its step, hyphenated) and only prints it.
const onlyAt = process.argv.indexOf("--only");
const only = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;
const runs = quick ? 5 : 15;
const figures: Figure[] = [];
const stepNames: string[] = [];
const stepName = (what: string) =>
  what
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");
const step = async (what: string, scenario: () => Promise<Figure[]>) => {
  stepNames.push(stepName(what));
  if (only !== undefined && stepName(what) !== only) return;
  await settle();
  process.stdout.write(`bench: ${what}... `);
  const started = performance.now();
  const found = await scenario();
  figures.push(...found);
  console.log(`${((performance.now() - started) / 1000).toFixed(0)} s`);
  for (const f of found)
    console.log(
      `  ${f.name}: ${f.value.toFixed(1)} ${f.unit}${f.baseline ? ` (baseline ${f.baseline.toFixed(1)})` : ""}`,
    );
};

await step("installed size", () => installedSize());
await step("the CLI", () => cliSpeed(runs));
await step("cold sandboxes", () => coldSandbox(runs));
await step("storage", () => storageCost(runs));
await step("warm claims", () => warmClaim(runs));
await step("exec round trips", () => execThroughput(runs * 2));
await step("pause and resume", () => lifecycle(runs));
await step("egress allowlists", () => egressOverhead(runs));
await step("pulumi up of a pool of 20, memory", () => pulumiPool());
await step("scaling", () => scaling(quick ? [10] : [10, 50, 100, 250, 500]));
await step("the dashboard's update latency", () => dashboardLatency(quick ? 20 : 200, quick ? 3 : 5));
await step("Kubernetes cold sandboxes", () => kubernetesColdSandboxes(runs));
await step("Kubernetes claims", () => kubernetesClaims(runs));

if (only !== undefined) {
  if (figures.length === 0) {
    console.error(`bench: no scenario named ${only}; the scenarios are: ${stepNames.join(", ")}`);
    process.exit(2);
  }
  process.exit(0);
}

const notesPath = new URL("./notes.md", import.meta.url);
const notes = readFileSync(notesPath, "utf8").trim().split("\n");
writeFileSync(
  new URL("../BENCHMARKS.md", import.meta.url),
  benchmarksMarkdown(await machine(), figures, notes, new Date()),
);
console.log("bench: wrote BENCHMARKS.md");
