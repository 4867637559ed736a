// The agent as a workload of the cluster: two replicas of the manifests
// `sandfleet agent manifests --apply` makes, of which the holder of the lease
// refills pools. Its pod killed mid-refill, the other replica takes the lease
// and finishes the refill, and the pool never holds more warm members than
// its replicas. Then `--delete` leaves nothing of it in the namespace.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandfleet } from "../../provider/client/sandfleet.ts";
import { connectEngine, type KubernetesEngineOptions } from "../../provider/engines/connect.ts";
import { poolProvider } from "../../provider/resources/pool-provider.ts";
import { isClaimable, listMembers } from "../../provider/runtime/pools/pool.ts";
import {
  agentImage,
  agentLog,
  agentManifestsCli,
  agentMetricsText,
  lease,
  leaseHolder,
  readyAgentPods,
  restrictedNamespace,
} from "../support/agent-in-cluster.ts";
import { cleanupBackend } from "../support/backends.ts";
import { TEST_CLUSTER } from "../support/cluster.ts";
import { uniqueApp } from "../support/engine.ts";
import { kubectl } from "../support/kubectl.ts";
import { until } from "../support/until.ts";

const REPLICAS = 3;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

describe("sandfleet agent in the cluster, two replicas, one leader", () => {
  let namespace = "";
  let image = "";
  let target: KubernetesEngineOptions;
  const app = uniqueApp("agentk");

  beforeAll(async () => {
    image = await agentImage();
    namespace = await restrictedNamespace("sf-agent");
    target = { ...TEST_CLUSTER, namespace };
  });
  afterAll(async () => {
    if (!namespace) return;
    await cleanupBackend(connectEngine({ kubernetes: target }), app).catch(() => undefined);
    await kubectl(["delete", "namespace", namespace, "--wait=false"]);
  });

  it("hands the lease over when the leader's pod is killed mid-refill, and the pool is refilled once", async () => {
    await agentManifestsCli(namespace, image, "--apply");
    await until(
      "both replicas Ready and one leading",
      async () => {
        const ready = await readyAgentPods(namespace);
        return ready.length === 2 && ready.includes(await leaseHolder(namespace));
      },
      180_000,
    );
    const leader = await leaseHolder(namespace);
    const [follower] = (await readyAgentPods(namespace)).filter((pod) => pod !== leader);
    expect(follower).toBeDefined();
    // The log and the metrics say who leads, on both replicas (the log a moment after the lease is written).
    await until("the leader's log says it leads", async () =>
      (await agentLog(namespace, leader)).some((l) => l.action === "leading"),
    );
    expect(await agentMetricsText(namespace, leader)).toContain(`sandfleet_agent_leader{identity="${leader}"} 1`);
    expect(await agentMetricsText(namespace, follower ?? "")).toContain(
      `sandfleet_agent_leader{identity="${follower ?? ""}"} 0`,
    );

    // A pool made by a maker with Docker beside it (as `sandfleet up` is); the agent in the cluster has none.
    const engine = connectEngine({ kubernetes: target });
    const checked = await poolProvider.check(
      {},
      {
        app,
        name: "py",
        replicas: REPLICAS,
        template: { image: "sandfleet/busybox", user: "1000:1000", memoryMiB: 32 },
        kubernetes: target,
      },
    );
    await poolProvider.create(checked.inputs as Record<string, unknown>);
    const warm = async () => (await listMembers(engine, app, "py")).filter((m) => m.state !== "claimed");
    const ready = async () => (await listMembers(engine, app, "py")).filter(isClaimable);
    expect(await ready()).toHaveLength(REPLICAS);

    // Claims the leader must refill; it is killed as soon as it has started a new member.
    const sandfleet = new Sandfleet({ kubernetes: target });
    const claimed = [await sandfleet.sandboxes.claim(app, "py"), await sandfleet.sandboxes.claim(app, "py")];
    const before = new Set((await listMembers(engine, app, "py")).map((m) => m.id));
    await until("the leader starts a new member", async () =>
      (await listMembers(engine, app, "py")).some((m) => !before.has(m.id)),
    );
    await kubectl(["-n", namespace, "delete", "pod", leader, "--grace-period=0", "--force"]);
    const killedMs = Date.now();

    // Watched until the pool is back: never more warm members than its replicas, whoever makes them.
    // The lease goes to a replica left: the follower, or the pod the Deployment made in the killed one's
    // place, whichever saw the lease lapse first.
    let mostWarm = 0;
    let refilledMs = 0;
    let seen = "";
    const newLeader = async () => {
      const holder = await leaseHolder(namespace);
      return holder !== leader && (await readyAgentPods(namespace)).includes(holder) ? holder : "";
    };
    await until(
      "the pool refilled and the lease held by a replica left",
      async () => {
        const members = await warm();
        mostWarm = Math.max(mostWarm, members.length);
        const readyNow = (await ready()).length;
        if (readyNow === REPLICAS && members.length === REPLICAS) refilledMs = Date.now();
        seen = `${String(readyNow)} ready of ${String(members.length)} warm, lease held by ${await leaseHolder(namespace)}`;
        return refilledMs > 0 && (await newLeader()) !== "";
      },
      120_000,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}; last seen: ${seen}`);
    });
    expect(mostWarm).toBeLessThanOrEqual(REPLICAS);
    const successor = await newLeader();
    expect(successor).not.toBe("");

    // Nothing duplicated: each member once, each name once, the claimed two still claimed and apart.
    const members = await listMembers(engine, app, "py");
    expect(new Set(members.map((m) => m.memberId)).size).toBe(members.length);
    expect(new Set(members.map((m) => m.containerName)).size).toBe(members.length);
    expect(members.filter((m) => m.state === "claimed")).toHaveLength(claimed.length);
    expect(members.filter(isClaimable)).toHaveLength(REPLICAS);

    // The new leader says so in its log, from its first pass on, and in its metrics.
    await until("the new leader's log says it leads", async () =>
      (await agentLog(namespace, successor)).some((l) => l.action === "leading"),
    );
    const log = await agentLog(namespace, successor);
    const took = log.find((l) => l.action === "leading");
    expect(took?.detail).toContain(`${successor} leads`);
    const firstPass = log.find((l) => Date.parse(l.time) >= Date.parse(took?.time ?? "") && l.action === "refilled");
    expect(await agentMetricsText(namespace, successor)).toContain(`sandfleet_agent_leader{identity="${successor}"} 1`);
    console.log(
      `agent leader killed: the lease went to ${successor === follower ? "the follower" : "the replacement pod"} after ${seconds(Date.parse(took?.time ?? "") - killedMs)}, ` +
        `its first pass refilled after ${firstPass ? seconds(Date.parse(firstPass.time) - killedMs) : "(no refill of its own)"}, ` +
        `the pool was whole (${String(REPLICAS)} ready) after ${seconds(refilledMs - killedMs)}`,
    );
    for (const sandbox of claimed) await sandbox.terminate();
  });

  it("gives the lease up on SIGTERM: a rolling update hands over at once", async () => {
    const leader = await leaseHolder(namespace);
    expect(leader).not.toBe("");
    const lastRenewMs = Date.parse((await lease(namespace)).spec.renewTime ?? "");
    const stoppedMs = Date.now();
    // A graceful delete sends SIGTERM; the follower leads long before the 15 s lease would lapse.
    await kubectl(["-n", namespace, "delete", "pod", leader, "--wait=false"]);
    await until(
      "another replica leads",
      async () => {
        const holder = await leaseHolder(namespace);
        return holder !== "" && holder !== leader;
      },
      60_000,
    );
    const handedMs = Date.now() - stoppedMs;
    console.log(`agent leader stopped with SIGTERM: another replica led after ${seconds(handedMs)}`);
    // Had the lease not been given up, the follower could take it only once it lapsed (15 s after the last renewal).
    const taken = await lease(namespace);
    expect(Date.parse(taken.spec.acquireTime ?? "")).toBeLessThan(
      lastRenewMs + (taken.spec.leaseDurationSeconds ?? 15) * 1000,
    );
    const holder = await leaseHolder(namespace);
    await until("the new leader says so in its metrics", async () =>
      (await agentMetricsText(namespace, holder)).includes(`sandfleet_agent_leader{identity="${holder}"} 1`),
    );
  });

  it("--delete removes every object it made, and the lease, leaving nothing behind", async () => {
    await agentManifestsCli(namespace, image, "--delete");
    const left = async () =>
      (
        await kubectl([
          "-n",
          namespace,
          "get",
          "serviceaccount,role,rolebinding,deployment,replicaset,pod,service,networkpolicy,lease,configmap,secret",
          "-l",
          "app.kubernetes.io/name=sandfleet-agent",
          "-o",
          "name",
        ])
      ).trim();
    await until("the agent's objects gone", async () => (await left()) === "", 90_000);
    expect(await leaseHolder(namespace)).toBe("");
    expect(
      (await kubectl(["-n", namespace, "get", "lease,serviceaccount", "-o", "name"]))
        .split("\n")
        .filter((line) => line.includes("sandfleet-agent")),
    ).toEqual([]);
  });
});
