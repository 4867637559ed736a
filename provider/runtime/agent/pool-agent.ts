import type { Engine } from "../../engines/port.ts";
import type { Clock } from "../local/poll.ts";
import type { AgentEvent, Reconciler } from "../observability/agent-event.ts";
import {
  listMembers,
  pruneClaimRecords,
  reconcilePool,
  recordedPools,
  secretEnvFromMember,
  type Refill,
} from "../pools/pool.ts";

/** Refills every pool recorded on the engine to its replicas, after claims, deaths and timeouts. */
export async function refillPools(docker: Engine, app?: string, clock?: Clock): Promise<AgentEvent[]> {
  // Each pool on its own: one whose new member waits (on a node about to be found lost) holds no other.
  const perPool = await Promise.all(
    (await recordedPools(docker))
      .filter((p) => !app || p.app === app)
      .map(async (pool): Promise<AgentEvent[]> => {
        const label = `${pool.app}/${pool.name}`;
        try {
          // Another maker (an `up`, another agent) filling this pool right now is left to it.
          const { added, removed, lost } = await refillPool(docker, pool, {
            wait: false,
            ...(clock ? { clock } : {}),
          });
          return [
            ...lost.map((line) => ({ action: "replaced" as const, sandbox: label, detail: line })),
            ...(added || removed
              ? [{ action: "refilled" as const, sandbox: label, detail: `+${String(added)} -${String(removed)}` }]
              : []),
          ];
        } catch (error) {
          return [{ action: "error", sandbox: label, detail: error instanceof Error ? error.message : String(error) }];
        }
      }),
  );
  await pruneClaimRecords(docker);
  return perPool.flat();
}

type RecordedPool = Awaited<ReturnType<typeof recordedPools>>[number];

/**
 * Refills one recorded pool. Its secret values are the caller's (`secretEnv`,
 * from the stack's state), else those a live member of its template holds.
 */
export async function refillPool(
  docker: Engine,
  pool: RecordedPool,
  options: { wait: boolean; secretEnv?: Record<string, string>; clock?: Clock },
): Promise<Refill> {
  const { secretKeys, ...template } = pool.template;
  const secretEnv =
    options.secretEnv ??
    (await secretEnvFromMember(
      docker,
      (await listMembers(docker, pool.app, pool.name)).filter((m) => m.templateHash === pool.templateHash),
      secretKeys,
    ));
  if (!secretEnv) {
    throw new Error(
      `no live member of pool ${pool.app}/${pool.name} holds its secrets; run \`sandfleet up\` to refill it from the stack`,
    );
  }
  return reconcilePool(
    docker,
    {
      app: pool.app,
      name: pool.name,
      replicas: pool.replicas,
      rollout: pool.rollout,
      template: { ...template, ...(secretKeys.length ? { secretEnv } : {}) },
    },
    { wait: options.wait, ...(options.clock ? { clock: options.clock } : {}) },
  );
}

/** The agent's warm-pool reconcilers, for one app's pools or every app's. */
export function poolReconcilers(app?: string, clock?: Clock): Reconciler[] {
  return [(docker) => refillPools(docker, app, clock)];
}
