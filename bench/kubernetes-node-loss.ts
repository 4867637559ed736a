// A node lost under a warm pool kept by an agent: how long until the cluster
// marks it, and until the pool is whole again on the node left. The kubelet is
// killed (its pods' processes run on, as on a node cut off) and started again
// after each run.
import { poolProvider } from "../provider/resources/pool-provider.ts";
import { Sandfleet } from "../provider/client/sandfleet.ts";
import { connectEngine } from "../provider/engines/connect.ts";
import { Agent } from "../provider/runtime/agent/agent.ts";
import { poolReconcilers } from "../provider/runtime/agent/pool-agent.ts";
import { listMembers } from "../provider/runtime/pools/pool.ts";
import { cleanupBackend } from "../test/support/backends.ts";
import { TEST_CLUSTER } from "../test/support/cluster.ts";
import { kubectl } from "../test/support/kubectl.ts";
import { until } from "../test/support/until.ts";
import { median, run, type Figure } from "./measure.ts";
import { benchApp } from "./scenarios.ts";

const clusterScript = new URL("../scripts/cluster", import.meta.url).pathname;
const REPLICAS = 4;

interface NodeJson {
  status: { conditions: { type: string; status: string }[] };
  spec: { taints?: { key: string }[] };
}

/** The node a pod runs on; "" for one removed meanwhile (the agent replaces members as it refills). */
const nodeOf = async (podId: string) =>
  kubectl(["get", "pod", podId, "-o", "jsonpath={.spec.nodeName}"]).catch(() => "");
async function nodeReady(node: string): Promise<boolean> {
  const json = JSON.parse(await kubectl(["get", "node", node, "-o", "json"])) as NodeJson;
  const ready = json.status.conditions.find((c) => c.type === "Ready")?.status === "True";
  return ready && !(json.spec.taints ?? []).some((t) => t.key.startsWith("node.kubernetes.io/"));
}
const kubelet = (verb: "kill-kubelet" | "start-kubelet", node: string) =>
  run("bash", [clusterScript, verb, /^sandfleet-node-(\d+)$/.exec(node)?.[1] ?? ""]);

/** One node lost under a pool of REPLICAS that an agent keeps: [marked, refilled] in ms after the kill. */
async function loseOneNode(): Promise<[number, number]> {
  const engine = connectEngine({ kubernetes: TEST_CLUSTER });
  const sandfleet = new Sandfleet({ kubernetes: TEST_CLUSTER });
  const app = benchApp();
  const stop = new AbortController();
  let victim = "";
  try {
    const checked = await poolProvider.check(
      {},
      { app, name: "warm", replicas: REPLICAS, template: { image: "sandfleet/busybox" }, kubernetes: TEST_CLUSTER },
    );
    await poolProvider.create(checked.inputs as Record<string, unknown>);
    const agentRun = new Agent({ docker: engine, reconcilers: poolReconcilers(app), app, intervalMs: 500 }).run(
      stop.signal,
    );
    const pool = await sandfleet.pools.fromName(app, "warm");
    const warmOn = async (node: string) =>
      (
        await Promise.all(
          (await listMembers(engine, app, "warm")).filter((m) => m.state === "warm").map((m) => nodeOf(m.id)),
        )
      ).filter((n) => n === node).length;
    const [first] = await listMembers(engine, app, "warm");
    victim = await nodeOf(first?.id ?? "");
    const killed = performance.now();
    await kubelet("kill-kubelet", victim);
    await until(`the cluster marks ${victim} not ready`, async () => !(await nodeReady(victim)), 120_000);
    const marked = performance.now() - killed;
    await until(
      "the pool whole again on the node left",
      async () => (await pool.status()).ready === REPLICAS && (await warmOn(victim)) === 0,
      120_000,
    );
    const refilled = performance.now() - killed;
    stop.abort();
    await agentRun;
    return [marked, refilled];
  } finally {
    stop.abort();
    if (victim) {
      const node = victim;
      await kubelet("start-kubelet", node);
      await until(`node ${node} Ready again`, () => nodeReady(node), 180_000);
    }
    await cleanupBackend(engine, app);
  }
}

/** Node loss to a refilled pool (`node bench/run.ts --only kubernetes-node-loss`). */
export async function nodeLoss(runs: number): Promise<Figure[]> {
  const marked: number[] = [];
  const refilled: number[] = [];
  for (let i = 0; i < runs; i++) {
    const [m, r] = await loseOneNode();
    marked.push(m);
    refilled.push(r);
  }
  return [
    {
      name: `Kubernetes: a node lost under a pool of ${String(REPLICAS)}, until the pool is whole on the node left`,
      value: median(refilled),
      unit: "ms",
      baselineName: "until the cluster marks the node (its node-monitor grace period, 12 s here)",
      baseline: median(marked),
      note: `its kubelet killed, an agent making passes every 0.5 s; median of ${String(runs)} (refilled ${refilled.map((ms) => (ms / 1000).toFixed(1)).join(", ")} s)`,
    },
  ];
}
