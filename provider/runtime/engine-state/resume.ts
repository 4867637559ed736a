import type { Engine } from "../../engines/port.ts";
import { ConflictError } from "../../errors.ts";

// Thawing stands apart from pausing: every way into a sandbox (an exec, a file
// call, a supervisor connection) thaws it on use, while pausing waits for those
// very connections to settle first.

/**
 * Thaws a paused sandbox, so that whatever needed it (an exec, a file call,
 * a connection) goes on: a paused sandbox resumes by itself on use. Says
 * whether it was paused.
 */
export async function resumeIfPaused(docker: Engine, id: string): Promise<boolean> {
  const container = await docker.containers.inspect(id);
  if (container?.status !== "paused") return false;
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
    if (error instanceof ConflictError && /paused/i.test(error.message) && (await resumeIfPaused(docker, id))) {
      return call();
    }
    throw error;
  }
}
