import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import type { ContainerInfo } from "./types.ts";

/** Rounds of find-and-kill before giving up on a process tree that keeps forking. */
const MAX_ROUNDS = 200;

/**
 * Ends every process of a container whose environment holds `key=value`.
 *
 * On the engine's own host, with runc, the processes are host processes: they
 * are found in /proc and signalled from outside, which works even when the
 * sandbox has no pid left for a new process (a fork loop, a pids limit full of
 * zombies). Elsewhere (a remote engine, gVisor, no permission) a script run in
 * the sandbox does the same, as the given user.
 */
export async function killTagged(
  container: ContainerInfo | undefined,
  tag: { key: string; value: string },
  runInside: (script: string, args: string[]) => Promise<void>,
): Promise<void> {
  if (!container?.running) return;
  if (container.runtime !== "runsc" && killFromHost(container.id, container.pid, `${tag.key}=${tag.value}`)) return;
  await runInside(KILL_INSIDE, [`${tag.key}=${tag.value}`]);
}

// Repeats until a pass finds no tagged process: children forked during a pass are caught by the next.
const KILL_INSIDE = `while :; do
  found=
  for p in /proc/[0-9]*; do
    if tr '\\0' '\\n' < "$p/environ" 2>/dev/null | grep -qxF "$1"; then kill -KILL "\${p#/proc/}" 2>/dev/null && found=1; fi
  done
  [ -n "$found" ] || break
done`;

/** Returns false when this host cannot see or signal the container's processes. */
function killFromHost(containerId: string, initPid: number, entry: string): boolean {
  let namespace: string;
  try {
    if (!readFileSync(`/proc/${String(initPid)}/cgroup`, "utf8").includes(containerId)) return false;
    namespace = readlinkSync(`/proc/${String(initPid)}/ns/pid`);
  } catch {
    return false;
  }
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const tagged = readdirSync("/proc").filter((pid) => /^\d+$/.test(pid) && isTagged(pid, namespace, entry));
    for (const pid of tagged) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch (error) {
        // Gone meanwhile is fine; not allowed means this host cannot do it.
        if ((error as NodeJS.ErrnoException).code === "EPERM") return false;
      }
    }
    if (tagged.length === 0) return true;
  }
  return true;
}

/** Whether the process is in the namespace and has the entry in its environment; unreadable ones are not. */
function isTagged(pid: string, namespace: string, entry: string): boolean {
  try {
    return (
      readlinkSync(`/proc/${pid}/ns/pid`) === namespace &&
      readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").includes(entry)
    );
  } catch {
    return false;
  }
}
