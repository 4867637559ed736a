import type { ContainerInfo, Engine } from "../../engines/port.ts";
import { NotFoundError } from "../../errors.ts";
import { SUPERVISOR_CONTROL_UID } from "../../rules.ts";
import { SECRET_FLAG, supervisorBin } from "./placement.ts";

/** What the host needs to open a connection to a sandbox's supervisor. */
export interface SupervisorControl {
  /** The sandbox's secret, made by the host when it made the sandbox. */
  secret: string;
  /** The user the engine runs `connect` as: the reserved uid, on an engine that can choose an exec's user. */
  user: string | undefined;
  /** The copy of the supervisor's binary the sandbox runs, for its runtime. */
  bin: string;
  /** The container as read for this: its first process is where a channel from beside joins. */
  container: ContainerInfo;
}

/**
 * Reads the secret back from the engine's record of the container (PID 1's
 * command line as it was made, which only the engine's clients see), so any
 * process that reaches the engine can connect, not only the one that made the sandbox.
 * `inspected`, a read the caller has just made, saves one: the secret and the
 * runtime never change once the container is made.
 */
export async function controlOf(
  docker: Engine,
  containerId: string,
  inspected?: ContainerInfo,
): Promise<SupervisorControl> {
  const [container, execUser] = await Promise.all([
    inspected?.id === containerId ? inspected : docker.containers.inspect(containerId),
    docker.execUser ?? docker.info().then((info) => info.capabilities.execUser),
  ]);
  if (!container) throw new NotFoundError(`sandbox ${containerId} not found on ${docker.host}`);
  return {
    secret: secretOf([...container.entrypoint, ...container.cmd]),
    bin: supervisorBin(container.runtime),
    user: execUser.supported ? `${String(SUPERVISOR_CONTROL_UID)}:${String(SUPERVISOR_CONTROL_UID)}` : undefined,
    container,
  };
}

/** The value of the first --secret, which stands before the sandbox's own command. */
function secretOf(argv: readonly string[]): string {
  const at = argv.indexOf(SECRET_FLAG);
  return at >= 0 ? (argv[at + 1] ?? "") : "";
}
