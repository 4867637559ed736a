import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import type { ContainerInfo } from "../port.ts";
import { isContainersProcess } from "./host-process.ts";

/** Rounds of find-and-kill before giving up on a process tree that keeps forking. */
const MAX_ROUNDS = 200;

/** The signal that ends a process for sure. */
const SIGKILL = 9;

/**
 * Sends a signal (by number) to every process of a container whose
 * environment holds `key=value`; SIGKILL is repeated until none is left.
 *
 * On the engine's own host, with runc, the processes are host processes: they
 * are found in /proc and signalled from outside, which works even when the
 * sandbox has no pid left for a new process (a fork loop, a pids limit full of
 * zombies). Elsewhere (a remote engine, gVisor, no permission) a script run in
 * the sandbox does the same, as the given user.
 */
export async function signalTagged(
  container: ContainerInfo | undefined,
  tag: { key: string; value: string },
  signal: number,
  runInside: (script: string, args: string[]) => Promise<void>,
): Promise<void> {
  if (!container?.running) return;
  const entry = `${tag.key}=${tag.value}`;
  if (container.runtime !== "runsc" && signalFromHost(container.id, container.pid, entry, signal)) return;
  await runInside(SIGNAL_INSIDE, [entry, String(signal)]);
}

// For SIGKILL, repeats until a pass finds no tagged process: children forked during a pass are caught by the next.
const SIGNAL_INSIDE = `while :; do
  found=
  for p in /proc/[0-9]*; do
    if tr '\\0' '\\n' < "$p/environ" 2>/dev/null | grep -qxF "$1"; then kill -"$2" "\${p#/proc/}" 2>/dev/null && found=1; fi
  done
  [ -n "$found" ] && [ "$2" = ${String(SIGKILL)} ] || break
done`;

/** Returns false when this host cannot see or signal the container's processes. */
function signalFromHost(containerId: string, initPid: number, entry: string, signal: number): boolean {
  if (!isContainersProcess(initPid, containerId)) return false;
  let namespace: string;
  try {
    namespace = readlinkSync(`/proc/${String(initPid)}/ns/pid`);
  } catch {
    return false;
  }
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const tagged = readdirSync("/proc").filter((pid) => /^\d+$/.test(pid) && isTagged(pid, namespace, entry));
    for (const pid of tagged) {
      try {
        process.kill(Number(pid), signal);
      } catch (error) {
        // Gone meanwhile is fine; not allowed means this host cannot do it.
        if ((error as NodeJS.ErrnoException).code === "EPERM") return false;
      }
    }
    if (tagged.length === 0 || signal !== SIGKILL) return true;
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
