/**
 * Whether a declared fleet fits its engine: every sandbox and every pool
 * member at its limits, added up, against what the engine has. Limits are
 * ceilings, not reservations, so a fleet that fits can still be busy; one
 * that does not fit cannot run at its limits at once.
 */
import type { SpecIssue } from "./issues.ts";
import type { SandfleetSpec, SpecSandbox } from "./types.ts";
import { parseSizeMiB } from "./units.ts";
import { SANDBOX_DEFAULTS } from "../runtime/sandbox-params.ts";
import type { YamlSource } from "./yaml-source.ts";

export interface FleetDemand {
  sandboxes: number;
  cpus: number;
  memoryMiB: number;
  pids: number;
}

export function fleetDemand(spec: SandfleetSpec): FleetDemand {
  const units: [SpecSandbox, number][] = [
    ...Object.values(spec.sandboxes).map((s): [SpecSandbox, number] => [s, 1]),
    ...Object.values(spec.pools).map((p): [SpecSandbox, number] => [p.template, p.replicas]),
  ];
  const demand = { sandboxes: 0, cpus: 0, memoryMiB: 0, pids: 0 };
  for (const [sandbox, count] of units) {
    demand.sandboxes += count;
    demand.cpus += (sandbox.cpu ?? SANDBOX_DEFAULTS.cpu) * count;
    demand.memoryMiB += (sandbox.memory ? (parseSizeMiB(sandbox.memory) ?? 0) : SANDBOX_DEFAULTS.memoryMiB) * count;
    demand.pids += (sandbox.pids ?? SANDBOX_DEFAULTS.pidsLimit) * count;
  }
  demand.cpus = Math.round(demand.cpus * 100) / 100;
  return demand;
}

/** The fleet against an engine's cpus and memory; an issue at `app` with the numbers when it does not fit. */
export function capacityIssues(
  spec: SandfleetSpec,
  source: YamlSource,
  engine: { name: string; cpus: number; memoryBytes: number },
): SpecIssue[] {
  const demand = fleetDemand(spec);
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
