import type { ContainerInfo, Engine } from "../../engines/port.ts";
import { endedName, endReasonOf } from "./ended-names.ts";
import { LABEL } from "./labels.ts";
import { newestRecords } from "./sandbox-records.ts";
import { ConflictError } from "../../errors.ts";

// Thawing stands apart from pausing: every way into a sandbox (an exec, a file
// call, a supervisor connection) thaws it on use, while pausing waits for those
// very connections to settle first.

/** sandfleet's checkpoints are named so: a resume restores its own, never one made by someone else. */
export const CHECKPOINT_PREFIX = "sandfleet-";

/**
 * Thaws a paused sandbox, or restores one a checkpoint stopped, so that
 * whatever needed it (an exec, a file call, a connection) goes on: a paused
 * sandbox resumes by itself on use. Says whether it was paused.
 */
export async function resumeIfPaused(docker: Engine, id: string): Promise<boolean> {
  const container = await docker.containers.inspect(id);
  if (!container) return false;
  const stopped = container.status === "exited" || container.status === "created";
  if (!stopped && container.status !== "paused") return false;
  // Past its lifetime while paused: it ends as the timeout would have ended it, and nothing more runs in it.
  if (await lifetimeOver(docker, container)) {
    await endPausedByTimeout(docker, container, stopped);
    throw new ConflictError(
      `sandbox ${container.name} ended by its timeout while it was paused; nothing more runs in it`,
    );
  }
  if (stopped) return restoreIfCheckpointed(docker, id);
  try {
    await docker.containers.unpause(id);
  } catch (error) {
    // Thawed meanwhile by another caller: what was wanted.
    if (!(error instanceof ConflictError)) throw error;
  }
  return true;
}

/** Runs an engine call on the sandbox; one refused because the sandbox is paused runs again once it is thawed. */
export async function withResume<T>(docker: Engine, id: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    // Paused (the freezer), or not running (stopped by a checkpoint, which resumeIfPaused restores).
    if (
      error instanceof ConflictError &&
      /paused|not running/i.test(error.message) &&
      (await resumeIfPaused(docker, id))
    ) {
      return call();
    }
    throw error;
  }
}

/**
 * Starts a sandbox that a checkpoint stopped from its newest checkpoint, its
 * processes as they were. Says whether there was one to restore: a sandbox
 * that stopped any other way stays stopped.
 */
export async function restoreIfCheckpointed(docker: Engine, id: string): Promise<boolean> {
  let byContainer = restoring.get(docker);
  if (!byContainer) restoring.set(docker, (byContainer = new Map<string, Promise<boolean>>()));
  const known = byContainer.get(id);
  if (known) return known;
  const restore = restoreNewest(docker, id).finally(() => byContainer.delete(id));
  byContainer.set(id, restore);
  return restore;
}

/**
 * Removes sandfleet's checkpoints of a stopped sandbox (its memory on disk):
 * it stays stopped, and is ended. Says whether there were any.
 */
export async function forgetCheckpoints(docker: Engine, id: string): Promise<boolean> {
  if (!(await docker.info()).capabilities.checkpoint.supported) return false;
  const ours = (await docker.containers.checkpoints(id)).filter((name) => name.startsWith(CHECKPOINT_PREFIX));
  for (const name of ours) await docker.containers.removeCheckpoint(id, name);
  return ours.length > 0;
}

/**
 * Whether a sandbox's lifetime is over: its newest deadline record, else its
 * timeout from when it was made. A pool member's lifetime starts at its claim,
 * which its supervisor and the agent keep; it is not judged here.
 */
async function lifetimeOver(docker: Engine, container: ContainerInfo): Promise<boolean> {
  if (container.labels[LABEL.pool] !== undefined) return false;
  const app = container.labels[LABEL.app];
  const deadline = (await newestRecords(docker, "deadline", app)).get(container.id);
  if (deadline) return Date.now() >= Number(deadline.labels[LABEL.deadline]);
  const timeoutMs = Number(container.labels[LABEL.timeoutMs] ?? 0);
  return timeoutMs > 0 && Date.now() >= Date.parse(container.createdAt) + timeoutMs;
}

/** Ends a paused or checkpointed sandbox whose lifetime is over, its reason recorded as the agent records it. */
async function endPausedByTimeout(docker: Engine, container: ContainerInfo, stopped: boolean): Promise<void> {
  if (endReasonOf(container.name) === undefined)
    await docker.containers.rename(container.id, endedName(container.name, "timeout"));
  if (stopped) await forgetCheckpoints(docker, container.id);
  else await docker.containers.kill(container.id, "SIGKILL");
}

/**
 * Whether a stopped sandbox waits in a checkpoint of sandfleet's to be restored
 * (a restore removes the checkpoint it started from): paused, not ended.
 */
export async function isCheckpointed(docker: Engine, id: string): Promise<boolean> {
  if (!(await docker.info()).capabilities.checkpoint.supported) return false;
  return (await docker.containers.checkpoints(id)).some((name) => name.startsWith(CHECKPOINT_PREFIX));
}

/** Restores under way, per engine client: the calls that meet a stopped sandbox at once wait on one. */
const restoring = new WeakMap<Engine, Map<string, Promise<boolean>>>();

async function restoreNewest(docker: Engine, id: string): Promise<boolean> {
  if (!(await docker.info()).capabilities.checkpoint.supported) return false;
  const ours = (await docker.containers.checkpoints(id)).filter((name) => name.startsWith(CHECKPOINT_PREFIX));
  // Base 36 of the time, at most one a millisecond: the longest, then the greatest, is the newest.
  const newest = ours.sort((a, b) => a.length - b.length || a.localeCompare(b)).at(-1);
  if (newest === undefined) return false;
  for (const deadline = Date.now() + RESTORE_WAIT_MS; ;) {
    try {
      await docker.containers.restore(id, newest);
      return true;
    } catch (error) {
      // Restored meanwhile by another process: what was wanted.
      if ((await docker.containers.inspect(id))?.status === "running") return true;
      // Docker 29 keeps the checkpoint it just made in containerd's content store a moment longer,
      // and refuses to upload the same again until it is gone.
      if (!/already exists/.test(String(error)) || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** How long a restore may wait for the engine to let go of the checkpoint it just made. */
const RESTORE_WAIT_MS = 30_000;
