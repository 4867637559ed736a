import type { Engine, NetworkInfo } from "../../engines/port.ts";
import { ConflictError, SandfleetError } from "../../errors.ts";
import { APP_BRIDGE_PREFIX } from "../../rules.ts";
import { askDaemon, DAEMON } from "./egress.ts";

/*
 * What an app network reaches is decided on the engine's host, not by the
 * engine's own options: Docker's `internal` networks publish no ports, and a
 * bridge without NAT still lets its containers reach every address of the
 * host and send packets out. The egress daemon (one container per engine, on
 * the host's network, restarted with the engine) keeps a guard: nftables
 * rules that match app bridges by the start of their names (rules.ts,
 * APP_BRIDGE_PREFIX). The rules need no list of networks, so they hold for a
 * network as soon as it exists; sandfleet only has to know they are in
 * place before it starts a sandbox on one.
 */

/**
 * Why no sandbox may start on an app network: its bridge is not one the
 * guard keeps, or is named for other reach than the network's NAT gives.
 * Undefined when it is, or when the network is not a bridge on a host (on
 * Kubernetes, NetworkPolicies keep it).
 */
export function unguardedNetworkProblem(network: NetworkInfo): string | undefined {
  if (network.bridge === undefined) return undefined;
  const prefix = network.masquerade ? APP_BRIDGE_PREFIX.internet : APP_BRIDGE_PREFIX.local;
  if (network.bridge.startsWith(prefix)) return undefined;
  return (
    `network ${network.name} runs on bridge ${network.bridge}, which the engine host's guard does not keep ` +
    `(a network made by hand or by an older sandfleet): its sandboxes would reach the host. ` +
    `Replace the App (pulumi up --replace), or remove the network once no sandbox uses it, and sandfleet makes it again`
  );
}

/**
 * The daemon container (id and start time) that last confirmed the guard,
 * per engine client: a daemon that started since may not have placed it yet
 * and is asked again, while one that already answered keeps its table (it
 * checks every 2 s), so most starts cost an inspect, not an exec.
 */
const confirmedBy = new WeakMap<Engine, string>();

/** What the engine says of a daemon container that is going or gone. */
const DAEMON_GONE = /no such container|no such exec|not running|restarting|removal in progress/i;

/**
 * Resolves once the engine host's guard is in force, so that a sandbox
 * started next on `network` reaches only what its app allows from its first
 * packet. Asks the daemon as it runs (placing it when there is none); a
 * daemon that cannot answer (too old to know the guard, unable to start) is
 * replaced by this package's.
 */
export async function requireNetworkGuard(docker: Engine, network: NetworkInfo): Promise<void> {
  const problem = unguardedNetworkProblem(network);
  if (problem) throw new ConflictError(problem);
  if (network.bridge === undefined) return;
  const daemon = await docker.containers.inspect(DAEMON);
  const stamp = daemon?.running ? `${daemon.id}@${daemon.startedAt}` : undefined;
  if (stamp !== undefined && confirmedBy.get(docker) === stamp) return;
  const ask = async (ours: boolean): Promise<string | undefined> => {
    try {
      return await askDaemon(docker, { op: "guard" }, !ours);
    } catch (error) {
      if (!(error instanceof SandfleetError)) throw error;
      return error.message;
    }
  };
  let refusal = await ask(false);
  // A daemon being replaced (by another version of sandfleet on the same
  // engine) can vanish under a request: ask again, this package's own.
  for (let attempt = 1; refusal !== undefined && attempt < 5; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    refusal = await ask(true);
    if (refusal !== undefined && refusal !== "" && !DAEMON_GONE.test(refusal)) break;
  }
  if (refusal !== undefined) {
    throw new SandfleetError(
      `the engine host's network guard is not in place, so no sandbox starts on ${network.name}: ${refusal || "the daemon ended during the request"}`,
    );
  }
  if (stamp !== undefined) confirmedBy.set(docker, stamp);
}
