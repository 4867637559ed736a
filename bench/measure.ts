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
  times.sort((a, b) => a - b);
  const middle = Math.floor(times.length / 2);
  return times.length % 2 ? (times[middle] ?? 0) : ((times[middle - 1] ?? 0) + (times[middle] ?? 0)) / 2;
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
