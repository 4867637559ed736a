import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import { promisify } from "node:util";

export const run = promisify(execFile);

/** Median of repeated runs after warm-up runs that are thrown away, in ms. */
export async function medianMs(runs: number, warmup: number, once: () => Promise<void>): Promise<number> {
  for (let i = 0; i < warmup; i++) await once();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await once();
    times.push(performance.now() - started);
  }
  return median(times);
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

export async function docker(...args: string[]): Promise<string> {
  return (await run("docker", args, { maxBuffer: 64 * 1024 * 1024 })).stdout;
}

export interface Machine {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  engine: string;
  node: string;
  pulumi: string;
}

export async function machine(): Promise<Machine> {
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    kernel: release(),
    engine: (await docker("version", "--format", "{{.Server.Version}}")).trim(),
    node: process.version,
    pulumi: (await run("pulumi", ["version"])).stdout.trim(),
  };
}

/** Resident memory of a process, in MiB, from /proc: all of it, or (`RssAnon`) the part no other process shares. */
export function rssMiB(pid: number, field: "VmRSS" | "RssAnon" = "VmRSS"): number {
  try {
    const status = readFileSync(`/proc/${String(pid)}/status`, "utf8");
    return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** Processes whose command line matches, as pids. */
export function pidsMatching(pattern: RegExp): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ");
      if (pattern.test(cmdline)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

export interface Figure {
  name: string;
  value: number;
  unit: string;
  baselineName?: string;
  baseline?: number;
  target?: number;
  note?: string;
}

export function ratio(figure: Figure): number | undefined {
  return figure.baseline ? figure.value / figure.baseline : undefined;
}

/** CPU ticks used so far by the kernel threads of this name (btrfs-cleaner, kworkers...). */
function kernelThreadTicks(name: string): number {
  let ticks = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() !== name) continue;
      const fields = readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
      ticks += Number(fields[11] ?? 0) + Number(fields[12] ?? 0); // utime, stime
    } catch {
      // gone meanwhile
    }
  }
  return ticks;
}

/**
 * Waits until the engine's storage has finished its background work: btrfs
 * deletes a removed container's subvolume later, in btrfs-cleaner, which can
 * take a core for minutes after a step that removed many. A step measured
 * during that measures the cleaner. Gives up after two minutes.
 */
export async function settle(): Promise<void> {
  for (let waited = 0; waited < 120; waited++) {
    const before = kernelThreadTicks("btrfs-cleaner");
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // Under 5% of a core for a second: settled.
    if (kernelThreadTicks("btrfs-cleaner") - before < 5) return;
  }
}
