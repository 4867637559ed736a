import { ratio, type Figure, type Machine } from "./measure.ts";

function format(value: number, unit: string): string {
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${unit}`;
}

/** BENCHMARKS.md: the machine, every figure with its baseline and ratio, and how to rerun. */
export function benchmarksMarkdown(machine: Machine, figures: Figure[], notes: string[], when: Date): string {
  const rows = figures.map((f) => {
    const r = ratio(f);
    const verdict =
      f.target === undefined || r === undefined
        ? ""
        : r <= f.target
          ? ` (target ≤ ${String(f.target)}x: met)`
          : ` (target ≤ ${String(f.target)}x: **missed**)`;
    return `| ${f.name} | ${format(f.value, f.unit)} | ${f.baselineName ? `${f.baselineName}: ${format(f.baseline ?? 0, f.unit)}` : ""} | ${r === undefined ? "" : `${r.toFixed(2)}x${verdict}`} | ${f.note ?? ""} |`;
  });
  return [
    "# sandfleet benchmarks",
    "",
    `Measured by \`npm run bench\` on ${when.toISOString().slice(0, 10)}; every figure is a median over repeated runs after warm-up runs, and every baseline was measured in the same run on the same machine. Nothing in \`npm test\` asserts a time.`,
    "",
    "## Machine",
    "",
    `- ${String(machine.cores)} cores (${machine.cpuModel}), ${String(machine.memoryGiB)} GiB`,
    `- kernel ${machine.kernel}, Docker engine ${machine.engine}, Node ${machine.node}, Pulumi ${machine.pulumi}`,
    "",
    "## Figures",
    "",
    "| measurement | sandfleet | baseline | ratio | note |",
    "| --- | --- | --- | --- | --- |",
    ...rows,
    "",
    "## Where the time goes",
    "",
    ...notes,
    "",
    "## Rerun",
    "",
    "```sh",
    "npm run bench   # bootstraps like npm test, then rewrites this file",
    "```",
    "",
  ].join("\n");
}
