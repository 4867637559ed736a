import type { Engine } from "../../engines/port.ts";
import { ConflictError } from "../../errors.ts";
import { CHECKPOINT_PREFIX } from "../engine-state/resume.ts";
import { closeIdleConnection, connectionSettled } from "../supervisor/connections.ts";

/** An exec created but not yet started or ended for longer than this was abandoned by its client, not starting. */
const EXEC_START_GRACE_MS = 5000;
/**
 * When each exec was first seen created but neither started nor ended, per
 * engine client (as its supervisor connections are): an exec abandoned by
 * its client is waited for once, not on every pause of its sandbox.
 */
const firstSeenStarting = new WeakMap<Engine, Map<string, number>>();

/**
 * Whether the engine may be starting an exec in the container now. Freezing
 * a sandbox while the engine starts an exec in it hangs the engine (the
 * exec's runc init waits in the frozen cgroup, holding the container).
 */
async function execStarting(docker: Engine, execIds: readonly string[]): Promise<boolean> {
  const now = Date.now();
  let seen = firstSeenStarting.get(docker);
  if (!seen) firstSeenStarting.set(docker, (seen = new Map<string, number>()));
  const infos = await Promise.all(execIds.map(async (id) => ({ id, info: await docker.exec.inspect(id) })));
  return infos.some(({ id, info }) => {
    if (!info || info.running || info.exitCode !== null) {
      seen.delete(id);
      return false;
    }
    const first = seen.get(id) ?? now;
    seen.set(id, first);
    return now - first < EXEC_START_GRACE_MS;
  });
}

/**
 * Freezes every process of the sandbox: memory and files stay, no CPU is
 * used. Waits until no exec is starting in it, this process's own or
 * another's. Says whether it paused it (false: it was paused already).
 */
export async function pauseSandbox(docker: Engine, id: string, describe: string): Promise<boolean> {
  await connectionSettled(docker, id);
  for (let attempt = 0; ; attempt++) {
    const container = await docker.containers.inspect(id);
    if (container?.status === "paused") return false;
    if (container?.status !== "running") {
      throw new ConflictError(`sandbox ${describe} is ${container?.status ?? "gone"}, not running`);
    }
    if (!(await execStarting(docker, container.execIds)) || attempt >= 100) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await docker.containers.pause(id);
  return true;
}

/** How a sandbox was paused. */
export interface PauseResult {
  /**
   * "freezer": frozen in memory. "checkpoint": written to disk with CRIU and
   * stopped, its memory freed; it is restored from disk on resume.
   */
  mode: "freezer" | "checkpoint";
  /** Why a checkpoint that was asked for was not made: the engine's, CRIU's or sandfleet's own words. */
  checkpointError?: string;
}

/**
 * Has the engine write the sandbox's memory and processes to disk with CRIU
 * (Docker's checkpoint API) and stop it. An engine that cannot (no
 * experimental API, no CRIU known to work on its host) is not asked: the
 * answer says why, from its capabilities, and the caller pauses with the
 * freezer instead; so does a checkpoint the engine or CRIU refuses.
 */
export async function checkpointSandbox(docker: Engine, id: string): Promise<string | undefined> {
  const { checkpoint } = (await docker.info()).capabilities;
  if (!checkpoint.supported) return `no checkpoint: ${checkpoint.why}; paused with the freezer instead`;
  // Docker (29 included) cannot restore a container on a network: its restore binds a network
  // namespace by a process id CRIU has not given yet (`bind-mount /proc/0/ns/net`). Not made, then.
  const networkMode = (await docker.containers.inspect(id))?.networkMode ?? "none";
  if (networkMode !== "none") {
    return `no checkpoint: the engine cannot restore a sandbox on a network (this one is on ${networkMode}); paused with the freezer instead`;
  }
  await connectionSettled(docker, id);
  // CRIU refuses a socket whose other end is outside the sandbox, as this process's connection is.
  if (!(await closeIdleConnection(docker, id))) {
    return "no checkpoint: a command or file call of this process still runs in it; paused with the freezer instead";
  }
  try {
    await docker.containers.checkpoint(id, `${CHECKPOINT_PREFIX}${Date.now().toString(36)}`);
    return undefined;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // CRIU's own reason is in its log, which the engine names but does not quote.
    return `the engine could not checkpoint it (${message.replace(/\s+/g, " ").trim()}); paused with the freezer instead`;
  }
}
