import { readFileSync } from "node:fs";
import { hostname } from "node:os";

/*
 * A half-made object (a pool member still pending, a sandbox whose create was
 * cut off) carries a label naming the process that is making it: host, pid,
 * and the pid's start time, since pids are reused. Whoever finds the object
 * later can then tell a maker that is still at work from one that was killed.
 */

/**
 * When a process started, in clock ticks since boot (field 22 of /proc/PID/stat);
 * undefined off Linux, and for a process that has ended: gone, or a zombie its
 * parent has not reaped yet (state Z or X), which will never act again.
 */
function processStartTicks(pid: number | "self"): string | undefined {
  try {
    const stat = readFileSync(`/proc/${String(pid)}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z" || fields[0] === "X") return undefined;
    return fields[19];
  } catch {
    return undefined;
  }
}

let self: string | undefined;

/** Hosts known to be gone for good (an agent replica whose pod the cluster removed): every maker there is gone. */
const goneHosts = new Set<string>();

/** Says that `host` will never run a maker again, so that what its makers left is taken over at once. */
export function markHostGone(host: string): void {
  if (host && host !== hostname()) goneHosts.add(host);
}

/** This process, as a maker label: `host:pid:start`. */
export function currentMaker(): string {
  self ??= `${hostname()}:${String(process.pid)}:${processStartTicks("self") ?? "0"}`;
  return self;
}

/**
 * Whether the maker named by the label is gone for sure: true when it ran on
 * this host and that process no longer exists; false when it is alive or when
 * this host cannot tell (another host, or no label).
 */
export function makerIsGone(label: string | undefined): boolean {
  const [host, pid, start] = (label ?? "").split(":");
  if (host && goneHosts.has(host)) return true;
  if (!host || !pid || !start || host !== hostname()) return false;
  const now = processStartTicks(Number(pid));
  return now === undefined || (start !== "0" && now !== start);
}
