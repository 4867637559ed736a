// Egress allowlists on the parity suite's cluster (scripts/cluster, whose nodes
// enforce NetworkPolicy with test/netpol): an allowlist's addresses are a
// NetworkPolicy of the sandbox's pod, and its names are refused with the reason.
// The listeners are the test's own: one on the host's address on the cluster's
// bridge (10.250.0.1), and a pod on each node (the test cluster routes no pod
// to another node's pods).
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandfleet } from "../../provider/client/sandfleet.ts";
import type { Sandbox } from "../../provider/client/sandbox.ts";
import { connectEngine } from "../../provider/engines/connect.ts";
import { KUBERNETES_LIMITS } from "../../provider/engines/engine-rules.ts";
import { poolProvider } from "../../provider/resources/pool-provider.ts";
import { sandboxProvider } from "../../provider/resources/sandbox-provider.ts";
import { cleanupBackend } from "../support/backends.ts";
import { TEST_CLUSTER } from "../support/cluster.ts";
import { uniqueApp } from "../support/engine.ts";
import { kubectl } from "../support/kubectl.ts";
import { listenerPod } from "../support/listener-pod.ts";
import { until } from "../support/until.ts";

const engine = connectEngine({ kubernetes: TEST_CLUSTER });
const sandfleet = new Sandfleet({ kubernetes: TEST_CLUSTER });
/** The host's address on the test cluster's bridge. */
const HOST = "10.250.0.1";
const NODES = ["sandfleet-node-1", "sandfleet-node-2"];

async function nodeOf(id: string): Promise<string> {
  return (await kubectl(["get", "pod", id, "-o", "jsonpath={.spec.nodeName}"])).trim();
}

/** What an HTTP GET from inside the sandbox answers within 3 s, or "NO". */
async function fetchFrom(from: Sandbox, url: string): Promise<string> {
  const result = await from.run(["sh", "-c", `timeout 3 wget -q -O - ${url} 2>/dev/null || echo NO`]);
  return result.stdout.trim();
}

describe("Kubernetes egress allowlists", () => {
  const app = uniqueApp("k8s-egress");
  const common = { app, image: "sandfleet/busybox", user: "1000:1000", memoryMiB: 32, timeoutMs: 15 * 60_000 };
  const suffix = randomBytes(3).toString("hex");
  const listenerNames = NODES.map((_, i) => `sf-egress-listener-${suffix}-${String(i)}`);
  /** Each node's listener pod's address. */
  const podAddress: Record<string, string> = {};
  let hostServer: Server;
  let hostUrl = "";
  let allowed: Sandbox;

  /** The listener pod on the sandbox's own node. */
  const podUrl = async (sandbox: Sandbox) => `http://${podAddress[await nodeOf(sandbox.id)] ?? ""}:8080/`;

  beforeAll(async () => {
    hostServer = createServer((_, res) => res.end("host"));
    await new Promise<void>((resolve) => hostServer.listen(0, HOST, resolve));
    hostUrl = `http://${HOST}:${String((hostServer.address() as AddressInfo).port)}/`;
    allowed = await sandfleet.sandboxes.create({ ...common, name: "allowed", egress: { allow: [HOST] } });
    // The sandbox's own image, as the cluster pulls it: it has busybox's httpd.
    const image = (await kubectl(["get", "pod", allowed.id, "-o", "jsonpath={.spec.containers[0].image}"])).trim();
    const addresses = await Promise.all(NODES.map((node, i) => listenerPod(listenerNames[i] ?? "", node, image)));
    NODES.forEach((node, i) => (podAddress[node] = addresses[i] ?? ""));
  });
  afterAll(async () => {
    hostServer.close();
    await kubectl(["delete", "pod", "--ignore-not-found", "--wait=false", ...listenerNames]);
    await cleanupBackend(engine, app);
  });

  it("reaches the one address of its list, and not another one", async () => {
    await until("the listed address answers", async () => (await fetchFrom(allowed, hostUrl)) === "host", 60_000);
    expect(await fetchFrom(allowed, await podUrl(allowed))).toBe("NO");
    // The other address answers whoever lists it: the "NO" above is the list's.
    const other = await sandfleet.sandboxes.create({
      ...common,
      name: "other",
      egress: { allow: Object.values(podAddress) },
    });
    const url = await podUrl(other);
    await until("the pod answers a sandbox that lists it", async () => (await fetchFrom(other, url)) === "pod");
    expect(await fetchFrom(other, hostUrl)).toBe("NO");
    const policy = await kubectl(["get", "networkpolicy", `${allowed.id}-egress`, "-o", "json"]);
    expect(JSON.parse(policy)).toMatchObject({
      spec: { policyTypes: ["Egress"], egress: [{ to: [{ ipBlock: { cidr: `${HOST}/32` } }] }] },
    });
  });

  it("changes the list in place: the same pod reaches the new address and no longer the old one", async () => {
    await using changing = await sandfleet.sandboxes.create({ ...common, egress: { allow: [HOST] } });
    await until("the listed address answers", async () => (await fetchFrom(changing, hostUrl)) === "host", 60_000);
    await changing.setEgress({ allow: Object.values(podAddress) });
    const url = await podUrl(changing);
    await until("the new address answers", async () => (await fetchFrom(changing, url)) === "pod");
    expect(await fetchFrom(changing, hostUrl)).toBe("NO");
    await expect(changing.setEgress({ allow: ["pypi.org"] })).rejects.toThrow(KUBERNETES_LIMITS.egressNames);
    // The refused change left the list as it was.
    expect(await fetchFrom(changing, url)).toBe("pod");
  });

  it("refuses a name in the list, and a pids bound, with the reason, making nothing", async () => {
    const named = sandfleet.sandboxes.create({ ...common, name: "named", egress: { allow: [HOST, "pypi.org"] } });
    await expect(named).rejects.toThrow(`egress.allow[1]: "pypi.org": ${KUBERNETES_LIMITS.egressNames}`);
    const bounded = sandfleet.sandboxes.create({ ...common, name: "bounded", pidsLimit: 64 });
    await expect(bounded).rejects.toThrow(`pidsLimit: ${KUBERNETES_LIMITS.pids}`);
    const made = await engine.containers.list({ "sandfleet.app": app, "sandfleet.name": "named" });
    const bound = await engine.containers.list({ "sandfleet.app": app, "sandfleet.name": "bounded" });
    expect([...made, ...bound]).toEqual([]);
  });

  it("removes a sandbox's policy with it", async () => {
    const gone = await sandfleet.sandboxes.create({ ...common, egress: { allow: [HOST] } });
    await kubectl(["get", "networkpolicy", `${gone.id}-egress`]);
    await gone.remove();
    await until("its policy is gone", async () => {
      const left = await kubectl(["get", "networkpolicy", "-o", "name"]);
      return !left.includes(`${gone.id}-egress`);
    });
  });

  it("a Pulumi Sandbox and SandboxPool: check refuses the pids bound and the names they hold, and asks no default of the cluster", async () => {
    const sandbox = { app, image: "sandfleet/busybox", kubernetes: TEST_CLUSTER };
    const refused = await sandboxProvider.check({}, { ...sandbox, pidsLimit: 64, egress: { allow: ["pypi.org"] } });
    expect(refused.failures).toEqual([
      { property: "pidsLimit", reason: KUBERNETES_LIMITS.pids },
      { property: "egress.allow[0]", reason: `"pypi.org": ${KUBERNETES_LIMITS.egressNames}` },
    ]);
    const checked = await sandboxProvider.check({}, sandbox);
    expect(checked.failures ?? []).toEqual([]);
    expect(checked.inputs).not.toHaveProperty("pidsLimit");
    const pool = { app, name: "warm", replicas: 1, kubernetes: TEST_CLUSTER };
    const refusedPool = await poolProvider.check(
      {},
      { ...pool, template: { image: "sandfleet/busybox", pidsLimit: 64, egress: { allow: ["*.pypi.org"] } } },
    );
    expect(refusedPool.failures).toEqual([
      { property: "template.pidsLimit", reason: KUBERNETES_LIMITS.pids },
      { property: "template.egress.allow[0]", reason: `"*.pypi.org": ${KUBERNETES_LIMITS.egressNames}` },
    ]);
    const checkedPool = await poolProvider.check({}, { ...pool, template: { image: "sandfleet/busybox" } });
    expect(checkedPool.failures ?? []).toEqual([]);
    expect((checkedPool.inputs as { template: object }).template).not.toHaveProperty("pidsLimit");
  });
});
