import type { Engine } from "../engines/port.ts";
import type { AgentEvent, Reconciler } from "./agent.ts";
import { listMembers, pruneClaimRecords, reconcilePool, recordedPools, secretEnvFromMember } from "./pool.ts";

/** Refills every pool recorded on the engine to its replicas, after claims, deaths and timeouts. */
export async function refillPools(docker: Engine, app?: string): Promise<AgentEvent[]> {
  const events: AgentEvent[] = [];
  for (const pool of (await recordedPools(docker)).filter((p) => !app || p.app === app)) {
    const { secretKeys, ...template } = pool.template;
    const members = await listMembers(docker, pool.app, pool.name);
    const secretEnv = await secretEnvFromMember(
      docker,
      members.filter((m) => m.templateHash === pool.templateHash),
      secretKeys,
    );
    const label = `${pool.app}/${pool.name}`;
    if (!secretEnv) {
      events.push({
        action: "error",
        sandbox: label,
        detail: "no live member holds the pool's secrets; run `pulumi up` to refill it",
      });
      continue;
    }
    try {
      // Another maker (an `up`, another agent) filling this pool right now is left to it.
      const { added, removed } = await reconcilePool(
        docker,
        {
          app: pool.app,
          name: pool.name,
          replicas: pool.replicas,
          rollout: pool.rollout,
          template: { ...template, ...(secretKeys.length ? { secretEnv } : {}) },
        },
        { wait: false },
      );
      if (added || removed)
        events.push({ action: "refilled", sandbox: label, detail: `+${String(added)} -${String(removed)}` });
    } catch (error) {
      events.push({ action: "error", sandbox: label, detail: error instanceof Error ? error.message : String(error) });
    }
  }
  await pruneClaimRecords(docker);
  return events;
}

/** The agent's warm-pool reconcilers, for one app's pools or every app's. */
export function poolReconcilers(app?: string): Reconciler[] {
  return [(docker) => refillPools(docker, app)];
}
