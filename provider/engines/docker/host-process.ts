import { readFileSync } from "node:fs";

/**
 * Whether `pid` is, on this host, a process of the container: its cgroup
 * names the container. False on another host, for a pid the container no
 * longer holds, or where /proc cannot be read.
 */
export function isContainersProcess(pid: number, containerId: string): boolean {
  if (pid <= 0) return false;
  try {
    return readFileSync(`/proc/${String(pid)}/cgroup`, "utf8").includes(containerId);
  } catch {
    return false;
  }
}
