import type { ContainerInfo, Engine } from "../../engines/port.ts";
import { SupervisorConnection } from "./connection.ts";

const open = new WeakMap<Engine, Map<string, Promise<SupervisorConnection>>>();

/**
 * Opens the connection ahead of the first call, so that a sandbox's first
 * command does not wait for it; a failure here is met again by that call.
 */
export function openAhead(docker: Engine, containerId: string): void {
  supervisorConnection(docker, containerId).catch(() => undefined);
}

/**
 * Resolves once no connection of this process to the sandbox is still
 * opening. Freezing a sandbox while the engine starts an exec in it hangs the
 * engine (the exec's runc init waits in the frozen cgroup, holding the
 * container), so whatever pauses a sandbox waits for this first.
 */
export async function connectionSettled(docker: Engine, containerId: string): Promise<void> {
  await open
    .get(docker)
    ?.get(containerId)
    ?.catch(() => undefined);
}

/**
 * The connection to a sandbox's supervisor, opened on first use and then
 * shared by every command and file call of this process on that sandbox.
 * `inspected`, the container as the caller has just read it, saves reading it again.
 */
export async function supervisorConnection(
  docker: Engine,
  containerId: string,
  inspected?: ContainerInfo,
): Promise<SupervisorConnection> {
  let byContainer = open.get(docker);
  if (!byContainer) {
    byContainer = new Map();
    open.set(docker, byContainer);
  }
  const known = byContainer.get(containerId);
  if (known) {
    const connection = await known.catch(() => undefined);
    if (connection?.open) return connection;
  }
  const forget = () => {
    if (byContainer.get(containerId) === opening) byContainer.delete(containerId);
  };
  const opening = SupervisorConnection.open(docker, containerId, forget, inspected);
  byContainer.set(containerId, opening);
  opening.catch(forget);
  return opening;
}

/**
 * Closes this process's connection to the sandbox's supervisor, once it is
 * open and idle. Says false while a command or file call still goes through it.
 */
export async function closeIdleConnection(docker: Engine, containerId: string): Promise<boolean> {
  const connection = await open
    .get(docker)
    ?.get(containerId)
    ?.catch(() => undefined);
  return connection?.open ? connection.closeIdle() : true;
}
