// Claims from a pool that the agent running inside the cluster keeps full: the
// manifests `sandfleet agent manifests --apply` makes (two replicas, one
// leading), a pool of POOL, and claimers that take CLAIMS members, most of them
// made by the agent's refills while the claimers wait.
import { Sandfleet } from "../provider/client/sandfleet.ts";
import { poolProvider } from "../provider/resources/pool-provider.ts";
import {
  agentImage,
  agentManifestsCli,
  leaseHolder,
  readyAgentPods,
  restrictedNamespace,
} from "../test/support/agent-in-cluster.ts";
import { TEST_CLUSTER } from "../test/support/cluster.ts";
import { kubectl } from "../test/support/kubectl.ts";
import { until } from "../test/support/until.ts";
import type { Figure } from "./measure.ts";
import { benchApp } from "./scenarios.ts";

const POOL = 10;
const CLAIMS = 40;
const CLAIMERS = 5;

/** Sustained claims per second from a pool of POOL refilled by the in-cluster agent. */
export async function inClusterAgentClaims(): Promise<Figure[]> {
  const namespace = await restrictedNamespace("sf-bench-agent");
  try {
    await agentManifestsCli(namespace, await agentImage(), "--apply");
    await until(
      "both agent replicas Ready and one leading",
      async () => {
        const ready = await readyAgentPods(namespace);
        return ready.length === 2 && ready.includes(await leaseHolder(namespace));
      },
      180_000,
    );
    const target = { ...TEST_CLUSTER, namespace };
    const app = benchApp();
    const checked = await poolProvider.check(
      {},
      {
        app,
        name: "warm",
        replicas: POOL,
        template: { image: "sandfleet/busybox", user: "1000:1000" },
        kubernetes: target,
      },
    );
    await poolProvider.create(checked.inputs as Record<string, unknown>);
    const sandfleet = new Sandfleet({ kubernetes: target });
    let claimed = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CLAIMERS }, async () => {
        while (claimed < CLAIMS) {
          claimed++;
          await sandfleet.sandboxes.claim(app, "warm", { waitMs: 120_000 });
        }
      }),
    );
    const perSecond = CLAIMS / ((performance.now() - started) / 1000);
    return [
      {
        name: `Kubernetes: claims per second, ${String(CLAIMS)} claims from a pool of ${String(POOL)} the in-cluster agent refills`,
        value: perSecond,
        unit: "claims/s",
        note: `${String(CLAIMERS)} claimers, each claim waiting for a member when none is warm; the agent (two replicas, one leading) makes the other ${String(CLAIMS - POOL)}`,
      },
    ];
  } finally {
    await kubectl(["delete", "namespace", namespace, "--wait=false"]);
  }
}
