import { Sandfleet } from "../index.ts";

/*
 * A claimed member is not drift (a preview after claims shows no change), so
 * `pulumi up` alone does not refill a pool; the agent does, and so does
 * `sandfleet up`, after pulumi, saying what it refilled. The pools and their
 * secrets come from the stack's own state, so a pool whose members were all
 * claimed (no live member holds its secrets) is refilled too.
 */

interface PoolOutputs {
  app: string;
  name: string;
  dockerHost?: string;
  kubernetes?: Record<string, string>;
  secretEnv?: Record<string, string>;
}

/** The stack's pools, from `pulumi stack export --show-secrets` output. */
export function stackPools(exported: string): PoolOutputs[] {
  const resources = (JSON.parse(exported) as { deployment?: { resources?: { outputs?: Record<string, unknown> }[] } })
    .deployment?.resources;
  return (resources ?? [])
    .map((r) => r.outputs)
    .filter(
      (o): o is Record<string, unknown> =>
        o !== undefined &&
        typeof o.app === "string" &&
        typeof o.name === "string" &&
        typeof o.replicas === "number" &&
        typeof o.template === "object",
    )
    .map((o) => unwrapSecrets(o) as PoolOutputs);
}

/** Pulumi's signature of a secret value in an exported state; `plaintext` holds its JSON with --show-secrets. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

function unwrapSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (typeof value !== "object" || value === null) return value;
  const record = value as Record<string, unknown>;
  if (SECRET_SIG in record && typeof record.plaintext === "string") {
    return unwrapSecrets(JSON.parse(record.plaintext) as unknown);
  }
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, unwrapSecrets(v)]));
}

/** Refills each pool to its replicas; says what it did, one line per pool it changed. */
export async function refillStackPools(pools: readonly PoolOutputs[], say: (line: string) => void): Promise<void> {
  for (const pool of pools) {
    const client = new Sandfleet({
      ...(pool.dockerHost ? { dockerHost: pool.dockerHost } : {}),
      ...(pool.kubernetes ? { kubernetes: pool.kubernetes } : {}),
    });
    try {
      const { added, removed, lost } = await (
        await client.pools.fromName(pool.app, pool.name)
      ).refill(pool.secretEnv ? { secretEnv: pool.secretEnv } : {});
      for (const line of lost) say(`pool ${pool.app}/${pool.name} replaced a member: ${line}`);
      if (added || removed) say(`refilled pool ${pool.app}/${pool.name}: +${String(added)} -${String(removed)}`);
    } catch (error) {
      // `up` itself succeeded: a pool it could not refill is said, and left to the agent.
      say(`could not refill pool ${pool.app}/${pool.name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
