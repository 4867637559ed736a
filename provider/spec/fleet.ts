/**
 * A spec's fleet, counted: every sandbox and every pool member, each at its
 * limits with the defaults filled in. Policy limits and the capacity check
 * both count from here.
 */
import { DISK_MIB } from "../rules.ts";
import { SANDBOX_DEFAULTS } from "../runtime/sandboxes/sandbox-params.ts";
import type { PathSegment } from "./positions.ts";
import type { SandfleetSpec, SpecSandbox } from "./types.ts";
import { parseSizeMiB } from "./units.ts";

/** A sandbox, or a pool's template, with where it is in the file and how many it makes. */
export interface FleetUnit {
  path: PathSegment[];
  sandbox: SpecSandbox;
  count: number;
  /** The pool itself, for a pool's template. */
  poolPath?: PathSegment[];
}

export function fleetUnits(spec: SandfleetSpec): FleetUnit[] {
  return [
    ...Object.entries(spec.sandboxes).map(([name, sandbox]) => ({ path: ["sandboxes", name], sandbox, count: 1 })),
    ...Object.entries(spec.pools).map(([name, pool]) => ({
      path: ["pools", name, "template"],
      sandbox: pool.template,
      count: pool.replicas,
      poolPath: ["pools", name],
    })),
  ];
}

export interface Usage {
  cpus: number;
  memoryMiB: number;
  diskMiB: number;
  pids: number;
}

/** What one sandbox (or one pool member) may use. */
export function memberUsage(sandbox: SpecSandbox): Usage {
  return {
    cpus: sandbox.cpu ?? SANDBOX_DEFAULTS.cpu,
    memoryMiB: sandbox.memory === undefined ? SANDBOX_DEFAULTS.memoryMiB : (parseSizeMiB(sandbox.memory) ?? 0),
    diskMiB: sandbox.disk === undefined ? DISK_MIB.default : (parseSizeMiB(sandbox.disk) ?? 0),
    pids: sandbox.pids ?? SANDBOX_DEFAULTS.pidsLimit,
  };
}

export interface FleetDemand extends Usage {
  /** Sandboxes in all, pool members counted one by one. */
  sandboxes: number;
}

/** The units added up, cpus to the hundredth (so that 3 × 0.1 is 0.3). */
export function fleetDemand(units: readonly FleetUnit[]): FleetDemand {
  const demand = { sandboxes: 0, cpus: 0, memoryMiB: 0, diskMiB: 0, pids: 0 };
  for (const unit of units) {
    const used = memberUsage(unit.sandbox);
    demand.sandboxes += unit.count;
    demand.cpus += used.cpus * unit.count;
    demand.memoryMiB += used.memoryMiB * unit.count;
    demand.diskMiB += used.diskMiB * unit.count;
    demand.pids += used.pids * unit.count;
  }
  demand.cpus = Math.round(demand.cpus * 100) / 100;
  return demand;
}
