/**
 * Whether a declared fleet fits its engine: every sandbox and every pool
 * member at its limits, added up, against what the engine has. Limits are
 * ceilings, not reservations, so a fleet that fits can still be busy; one
 * that does not fit cannot run at its limits at once.
 */
import { fleetDemand, fleetUnits } from "./fleet.ts";
import type { SpecIssue } from "./issues.ts";
import type { SandfleetSpec } from "./types.ts";
import type { YamlSource } from "./yaml-source.ts";

/** The fleet against an engine's cpus and memory; an issue at `app` with the numbers when it does not fit. */
export function capacityIssues(
  spec: SandfleetSpec,
  source: YamlSource,
  engine: { name: string; cpus: number; memoryBytes: number },
): SpecIssue[] {
  const demand = fleetDemand(fleetUnits(spec));
  const memoryMiB = Math.floor(engine.memoryBytes / 1024 / 1024);
  const short: string[] = [];
  if (demand.cpus > engine.cpus) short.push(`${String(demand.cpus)} cpus (the engine has ${String(engine.cpus)})`);
  if (demand.memoryMiB > memoryMiB) {
    short.push(`${String(demand.memoryMiB)} MiB of memory (the engine has ${String(memoryMiB)} MiB)`);
  }
  if (short.length === 0) return [];
  return [
    {
      file: spec.file,
      ...source.at(["app"]),
      path: "app",
      reason: `the fleet does not fit the engine at ${engine.name}: its ${String(demand.sandboxes)} sandboxes at their limits need ${short.join(" and ")}`,
    },
  ];
}
