// Attacks on sandfleet's Kubernetes engine, on the parity suite's cluster
// (scripts/cluster, whose nodes enforce NetworkPolicy with test/netpol and
// drop what pods send to the node itself):
// - code in a sandbox with no network, or in another app, reaching pods,
//   its node or the cluster's gateway;
// - a tenant holding sandfleet's role (examples/kubernetes/rbac.yaml)
//   reading other namespaces' pods through a node's proxy, acting in another
//   namespace, or starting a pod that mounts the node's /;
// - a namespace that enforces Pod Security "restricted" refusing sandfleet's
//   pods, or refusing them with an error nobody can act on;
// - a sandbox, a neighbour's pod or a tenant using the agent's service-account
//   token, or reaching its metrics port;
// - a tunnel reached from another address of this host, a connect token for
//   one sandbox used for another, and a port-forward pointed at another pod or
//   port than the one named.
// - code in a sandbox with an egress allowlist reaching what its list does not
//   name: another pod, the API server, a link-local (metadata) address, a DNS
//   server for a tunnel, and its own node even when the list names it.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, type Server } from "node:http";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandfleet } from "../../provider/client/sandfleet.ts";
import { connectEngine } from "../../provider/engines/connect.ts";
import { createAppNetwork } from "../../provider/runtime/networks/apps.ts";
import { serveGateway } from "../../provider/serve/gateway.ts";
import { originLabel } from "../../provider/runtime/sandboxes/connect-tokens.ts";
import type { Sandbox } from "../../provider/client/sandbox.ts";
import { agentImage, agentManifestsCli, readyAgentPods } from "../support/agent-in-cluster.ts";
import { cleanupBackend } from "../support/backends.ts";
import { TEST_CLUSTER } from "../support/cluster.ts";
import { uniqueApp } from "../support/engine.ts";
import { KUBECTL, kubectl } from "../support/kubectl.ts";
import { answersAt, fetchLoopback, upgradeLoopback } from "../support/loopback-http.ts";
import { listenerPod } from "../support/listener-pod.ts";
import { sandfleetRole } from "../support/sandfleet-role.ts";
import { until } from "../support/until.ts";

const run = promisify(execFile);
const engine = connectEngine({ kubernetes: TEST_CLUSTER });
const sandfleet = new Sandfleet({ kubernetes: TEST_CLUSTER });
const suffix = () => randomBytes(3).toString("hex");

interface PodPlace {
  node: string;
  podIP: string;
  hostIP: string;
}
async function placeOf(id: string): Promise<PodPlace> {
  const pod = JSON.parse(await kubectl(["get", "pod", id, "-o", "json"])) as {
    spec: { nodeName: string };
    status: { podIP: string; hostIP: string };
  };
  return { node: pod.spec.nodeName, podIP: pod.status.podIP, hostIP: pod.status.hostIP };
}

/** Whether an HTTP GET from inside the sandbox gets an answer within 3 s. */
async function reaches(from: Sandbox, url: string): Promise<boolean> {
  const result = await from.run([
    "sh",
    "-c",
    `timeout 3 wget -q -O - ${url} >/dev/null 2>&1 && echo REACHED || echo NO`,
  ]);
  return result.stdout.trim() === "REACHED";
}

/** Whether a TCP connection from inside the sandbox to an IPv6 link-local address on its eth0 gets an HTTP answer within 3 s. */
async function reachesLinkLocal(from: Sandbox, address: string, port: number): Promise<boolean> {
  const request = `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 3 nc ${address}%eth0 ${String(port)}`;
  const result = await from.run(["sh", "-c", `${request} 2>/dev/null | grep -q '^ok' && echo REACHED || echo NO`]);
  return result.stdout.trim() === "REACHED";
}

/** The IPv6 link-local address of a sandbox's eth0. */
async function linkLocalOf(sandbox: Sandbox): Promise<string> {
  const { stdout } = await sandbox.run(["sh", "-c", "ip -6 addr show dev eth0 scope link"]);
  const address = /inet6 (fe80::[0-9a-f:]+)\//.exec(stdout)?.[1];
  if (!address) throw new Error(`no IPv6 link-local address in: ${stdout}`);
  return address;
}

/** A sandbox of `app` made on `node`: the test cluster has no route between nodes' pods, so pairs must share one. */
async function sandboxOn(node: string | undefined, params: Parameters<Sandfleet["sandboxes"]["create"]>[0]) {
  // A miss is kept until a sandbox lands where wanted: the scheduler spreads pods, so each one
  // kept on the other node makes the next land on this one.
  const misses: Sandbox[] = [];
  try {
    for (let attempt = 0; attempt < 12; attempt++) {
      const sandbox = await sandfleet.sandboxes.create(params);
      const place = await placeOf(sandbox.id);
      if (node === undefined || place.node === node) return { sandbox, place };
      misses.push(sandbox);
    }
  } finally {
    await Promise.all(misses.map((miss) => miss.terminate()));
  }
  throw new Error(`no sandbox landed on ${String(node)} in 12 tries`);
}

describe("Kubernetes networks: what a sandbox's code can reach", () => {
  const appA = uniqueApp("k8s-net-a");
  const appB = uniqueApp("k8s-net-b");
  const appC = uniqueApp("k8s-net-c"); // internet: true
  const common = { image: "sandfleet/busybox", user: "1000:1000", memoryMiB: 32, timeoutMs: 15 * 60_000 };
  const serve = "mkdir -p /tmp/www && echo ok > /tmp/www/index.html && httpd -p 8080 -h /tmp/www";
  let none: Sandbox, a1: Sandbox, a2: Sandbox, b1: Sandbox, c1: Sandbox;
  let place: { none: PodPlace; a2: PodPlace; b1: PodPlace };
  let listener: ChildProcess | undefined;
  let netns = "";

  beforeAll(async () => {
    await createAppNetwork(engine, appA, false);
    await createAppNetwork(engine, appB, false);
    await createAppNetwork(engine, appC, true);
    const made = await sandboxOn(undefined, { ...common, app: appA, name: "offline" });
    none = made.sandbox;
    const node = made.place.node;
    const [first, second, other, online] = await Promise.all([
      sandboxOn(node, { ...common, app: appA, network: "app" }),
      sandboxOn(node, { ...common, app: appA, network: "app" }),
      sandboxOn(node, { ...common, app: appB, network: "app" }),
      sandboxOn(node, { ...common, app: appC, network: "app" }),
    ]);
    [a1, a2, b1, c1] = [first.sandbox, second.sandbox, other.sandbox, online.sandbox];
    place = { none: made.place, a2: second.place, b1: other.place };
    await a2.run(["sh", "-c", serve]);
    await b1.run(["sh", "-c", serve]);
    // A listener on every address of the pods' node (its own, and the pod bridge's gateway).
    netns = `sfk-n${node.replace(/^sandfleet-node-/, "")}`;
    listener = spawn("ip", [
      "netns",
      "exec",
      netns,
      process.execPath,
      "-e",
      "require('node:http').createServer((q, r) => r.end('node')).listen(18080, '0.0.0.0', () => console.log('up'))",
    ]);
    await new Promise<void>((resolve, reject) => {
      listener?.stdout?.once("data", () => {
        resolve();
      });
      listener?.once("exit", (code) => {
        reject(new Error(`the node listener ended (${String(code)})`));
      });
    });
    // The listener answers on the node's address (the host reaches it): a "no" below is the node's rules.
    expect(await (await fetch(`http://${made.place.hostIP}:18080/`)).text()).toBe("node");
  });
  afterAll(async () => {
    listener?.kill();
    await cleanupBackend(engine, appA);
    await cleanupBackend(engine, appB);
    await cleanupBackend(engine, appC);
  });

  it("lets a pod of app A reach its own app's pod, and never app B's", async () => {
    await until("app A's pods reach each other", () => reaches(a1, `http://${place.a2.podIP}:8080/`), 60_000);
    expect(await reaches(a1, `http://${place.b1.podIP}:8080/`)).toBe(false);
    expect(await reaches(b1, `http://${place.a2.podIP}:8080/`)).toBe(false);
  });

  it("lets an app with internet reach no other app's pod, no node and not the cluster's host", async () => {
    const reached = [];
    const targets = {
      "app A's pod": `http://${place.a2.podIP}:8080/`,
      "its node's address": `http://${place.none.hostIP}:18080/`,
      "the cluster's host (registry)": "http://10.250.0.1:5000/v2/",
    };
    for (const [what, url] of Object.entries(targets)) if (await reaches(c1, url)) reached.push(what);
    expect(reached).toEqual([]);
  });

  it("keeps a sandbox with no network off every pod, its node's addresses and the gateways", async () => {
    const gateway = place.none.podIP.replace(/\.\d+$/, ".1");
    const targets = {
      "app A's pod": `http://${place.a2.podIP}:8080/`,
      "app B's pod": `http://${place.b1.podIP}:8080/`,
      "its node's address": `http://${place.none.hostIP}:18080/`,
      "the pod bridge's gateway": `http://${gateway}:18080/`,
      "the cluster's host (registry)": "http://10.250.0.1:5000/v2/",
    };
    const reached = [];
    for (const [what, url] of Object.entries(targets)) if (await reaches(none, url)) reached.push(what);
    // IPv6 link-local: every pod has an address on its eth0, routed nowhere but bridged to its neighbours.
    const a2v6 = await linkLocalOf(a2);
    const fromNode = await run("ip", [
      "netns",
      "exec",
      netns,
      "curl",
      "-s",
      "-m",
      "3",
      "-g",
      `http://[${a2v6}%cni0]:8080/`,
    ]);
    expect(fromNode.stdout).toMatch(/^ok$/m); // it answers on that address
    if (await reachesLinkLocal(none, a2v6, 8080)) reached.push("app A's pod over IPv6 link-local");
    expect(reached).toEqual([]);
    // A networked pod gets nothing from the node either.
    expect(await reaches(a1, `http://${place.none.hostIP}:18080/`)).toBe(false);
    expect(await reaches(a1, `http://${gateway}:18080/`)).toBe(false);
  });
});

describe("a namespace enforcing Pod Security restricted", () => {
  const namespace = `sandfleet-psa-${suffix()}`;
  const options = { ...TEST_CLUSTER, namespace };
  const app = uniqueApp("k8s-psa");
  beforeAll(async () => {
    await kubectl(["create", "namespace", namespace]);
    await kubectl(["label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted"]);
  });
  afterAll(async () => {
    await cleanupBackend(connectEngine({ kubernetes: options }), app);
    await kubectl(["delete", "namespace", namespace, "--wait=false"]);
  });

  it("runs a sandbox whose user is a non-root uid", async () => {
    await using sandbox = await new Sandfleet({ kubernetes: options }).sandboxes.create({
      app,
      image: "sandfleet/busybox",
      user: "1000:1000",
      memoryMiB: 32,
      env: { KEY: "value" },
    });
    expect((await sandbox.run(["sh", "-c", 'id -u; echo "$KEY"'])).stdout).toBe("1000\nvalue\n");
    // Usage comes from the sandbox's supervisor: no node proxy involved.
    expect((await sandbox.metrics()).memoryBytes).toBeGreaterThan(0);
  });

  it("runs a sandbox whose image's own user is a non-root uid, with no user: set", async () => {
    const image = `sandfleet-test/nonroot:${suffix()}`;
    const context = mkdtempSync(join(tmpdir(), "sandfleet-nonroot-"));
    writeFileSync(join(context, "Dockerfile"), "FROM sandfleet/busybox\nUSER 1000:1000\n");
    // Built by the engine under test (the Kubernetes engine builds with its local Docker engine), not another CLI.
    const images = connectEngine({ kubernetes: options }).images;
    await images.build(context, { tag: image, labels: {}, networkMode: "none", dockerfile: "Dockerfile" }, () => {});
    try {
      await using sandbox = await new Sandfleet({ kubernetes: options }).sandboxes.create({
        app,
        image,
        memoryMiB: 32,
      });
      expect((await sandbox.run(["id", "-u"])).stdout).toBe("1000\n");
    } finally {
      rmSync(context, { recursive: true, force: true });
      await images.remove(image).catch(() => undefined);
    }
  });

  it("refuses a sandbox that may run as root with the reason and the fix, leaving nothing behind", async () => {
    const made = new Sandfleet({ kubernetes: options }).sandboxes.create({
      app,
      image: "sandfleet/busybox",
      memoryMiB: 32,
      env: { KEY: "value" },
    });
    await expect(made).rejects.toThrow(
      /namespace sandfleet-psa-\w+ enforces Pod Security "restricted", which refuses pods that may run as root: this sandbox runs as its image's user \(root; no user: set\).*user: "1000:1000"/,
    );
    expect(
      await kubectl(["-n", namespace, "get", "pods,secrets", "-l", "sandfleet.io/engine-object=true", "-o", "name"]),
    ).toBe("");
  });
});

describe("a tenant holding sandfleet's role", () => {
  const namespace = `sandfleet-role-${suffix()}`;
  let user = "";
  let kubeconfig = "";
  beforeAll(async () => {
    const role = await sandfleetRole(namespace);
    user = role.user;
    kubeconfig = role.options.kubeconfig;
  });
  afterAll(async () => {
    await kubectl(["delete", "namespace", namespace, "--wait=false"]);
  });
  const canI = async (...args: string[]) => {
    try {
      return (await kubectl(["auth", "can-i", "--as", user, ...args])).trim();
    } catch (error) {
      return ((error as { stdout?: string }).stdout ?? "").trim();
    }
  };
  const asTenant = async (...args: string[]) => {
    try {
      await run(KUBECTL, ["--kubeconfig", kubeconfig, ...args], { maxBuffer: 1 << 24 });
      return "allowed";
    } catch (error) {
      return ((error as { stderr?: string }).stderr ?? String(error)).trim();
    }
  };

  it("reads no node's proxy and nothing outside its namespace", async () => {
    expect(await canI("create", "pods", "-n", namespace)).toBe("yes"); // the role itself is in force
    expect(await canI("get", "nodes/proxy")).toBe("no");
    // Its port-forward reaches pods of its own namespace alone.
    expect(await canI("create", "pods/portforward", "-n", namespace)).toBe("yes");
    expect(await canI("create", "pods/portforward", "-n", "default")).toBe("no");
    expect(await canI("get", "nodes/stats")).toBe("no");
    expect(await canI("list", "nodes")).toBe("no");
    expect(await canI("list", "pods", "--all-namespaces")).toBe("no");
    expect(await canI("create", "pods", "-n", "default")).toBe("no");
    expect(await canI("get", "secrets", "-n", "default")).toBe("no");
    expect(await asTenant("get", "--raw", `/api/v1/namespaces/${namespace}/pods`)).toBe("allowed");
    expect(await asTenant("get", "--raw", "/api/v1/nodes/sandfleet-node-1/proxy/pods")).toMatch(/Forbidden/i);
    expect(await asTenant("get", "--raw", "/api/v1/namespaces/default/pods")).toMatch(/Forbidden/i);
    expect(await asTenant("-n", "default", "create", "configmap", `probe-${suffix()}`)).toMatch(/forbidden/i);
  });

  it("cannot start a pod that mounts the node's / in its own namespace", async () => {
    const file = join(tmpdir(), `sandfleet-hostpath-${namespace}.yaml`);
    writeFileSync(
      file,
      [
        "apiVersion: v1",
        "kind: Pod",
        `metadata: { name: host-root, namespace: ${namespace} }`,
        "spec:",
        "  containers: [{ name: c, image: sandfleet/busybox, volumeMounts: [{ name: root, mountPath: /host }] }]",
        "  volumes: [{ name: root, hostPath: { path: / } }]",
      ].join("\n"),
    );
    expect(await asTenant("create", "-f", file)).toMatch(/violates PodSecurity "restricted.*hostPath/);
  });
});

describe("the agent's service-account token", () => {
  // The sandboxes' namespace, with the agent beside them (the default layout, the nearest a sandbox gets to it).
  const namespace = `sandfleet-agent-sec-${suffix()}`;
  // A neighbour: another namespace's workload on the same nodes.
  const neighbour = `sandfleet-neighbour-${suffix()}`;
  const options = { ...TEST_CLUSTER, namespace };
  const app = uniqueApp("k8s-agent-sec");
  const agentUser = `system:serviceaccount:${namespace}:sandfleet-agent`;
  let image = "";
  beforeAll(async () => {
    image = await agentImage();
    for (const ns of [namespace, neighbour]) {
      await kubectl(["create", "namespace", ns]);
      await kubectl(["label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted"]);
    }
    await agentManifestsCli(namespace, image, "--apply");
    await until("both agent replicas Ready", async () => (await readyAgentPods(namespace)).length === 2, 180_000);
  });
  afterAll(async () => {
    await cleanupBackend(connectEngine({ kubernetes: options }), app);
    for (const ns of [namespace, neighbour]) await kubectl(["delete", "namespace", ns, "--wait=false"]);
  });
  const canI = async (...args: string[]) => {
    try {
      return (await kubectl(["auth", "can-i", "--as", agentUser, ...args])).trim();
    } catch (error) {
      return ((error as { stdout?: string }).stdout ?? "").trim();
    }
  };
  /** A pod of the agent's image that only sleeps, on `node`, as Pod Security restricted admits. */
  const agentPlaces = async () =>
    Promise.all(
      (await readyAgentPods(namespace)).map(async (pod) => {
        const json = JSON.parse(await kubectl(["-n", namespace, "get", "pod", pod, "-o", "json"])) as {
          spec: { nodeName: string };
          status: { podIP: string };
        };
        return { pod, node: json.spec.nodeName, ip: json.status.podIP };
      }),
    );
  it("is not in any sandbox beside the agent, and no sandbox reaches an agent replica's metrics port", async () => {
    const [agent] = await agentPlaces();
    if (!agent) throw new Error("no agent replica");
    // A sandbox on the agent replica's node (the test cluster has no route between nodes' pods).
    const beside = new Sandfleet({ kubernetes: options });
    const misses: Sandbox[] = [];
    let sandbox: Sandbox | undefined;
    for (let attempt = 0; attempt < 12 && !sandbox; attempt++) {
      const made = await beside.sandboxes.create({ app, image: "sandfleet/busybox", user: "1000:1000", memoryMiB: 32 });
      const json = JSON.parse(await kubectl(["-n", namespace, "get", "pod", made.id, "-o", "json"])) as {
        spec: { nodeName: string };
      };
      if (json.spec.nodeName === agent.node) sandbox = made;
      else misses.push(made);
    }
    await Promise.all(misses.map((miss) => miss.terminate()));
    if (!sandbox) throw new Error(`no sandbox landed on ${agent.node}`);
    try {
      const token = await sandbox.run([
        "sh",
        "-c",
        "ls /var/run/secrets/kubernetes.io/serviceaccount 2>&1; env | grep -c KUBERNETES_SERVICE || true",
      ]);
      expect(token.stdout).toMatch(/No such file or directory/);
      expect(await reaches(sandbox, `http://${agent.ip}:9464/healthz`)).toBe(false);
      expect(await reaches(sandbox, `http://${agent.ip}:9464/metrics`)).toBe(false);
    } finally {
      await sandbox.terminate();
    }
  });

  it("can do no more than sandfleet's role in its namespace and its one lease", async () => {
    expect(await canI("create", "pods", "-n", namespace)).toBe("yes"); // the role is in force
    expect(await canI("update", "leases/sandfleet-agent", "-n", namespace)).toBe("yes");
    expect(await canI("update", "leases/kube-scheduler", "-n", namespace)).toBe("no");
    expect(await canI("delete", "leases/sandfleet-agent", "-n", namespace)).toBe("no");
    expect(await canI("update", "leases", "-n", "kube-node-lease")).toBe("no");
    expect(await canI("list", "secrets", "-n", namespace)).toBe("no");
    expect(await canI("create", "serviceaccounts", "--subresource=token", "-n", namespace)).toBe("no");
    expect(await canI("patch", "pods", "--subresource=ephemeralcontainers", "-n", namespace)).toBe("no");
    expect(await canI("update", "pods", "--subresource=ephemeralcontainers", "-n", namespace)).toBe("no");
    expect(await canI("create", "rolebindings", "-n", namespace)).toBe("no");
    expect(await canI("patch", "deployments", "-n", namespace)).toBe("no");
    expect(await canI("list", "nodes")).toBe("no");
    expect(await canI("get", "nodes/proxy")).toBe("no");
    // Its port-forward reaches pods of its own namespace alone.
    expect(await canI("create", "pods/portforward", "-n", namespace)).toBe("yes");
    expect(await canI("create", "pods/portforward", "-n", "default")).toBe("no");
    expect(await canI("list", "pods", "--all-namespaces")).toBe("no");
    expect(await canI("get", "secrets", "-n", neighbour)).toBe("no");
  });

  it("in a namespace of its own, is out of reach of a tenant that may create pods among the sandboxes", async () => {
    const sandboxes = `sandfleet-tenant-${suffix()}`;
    const home = `sandfleet-system-${suffix()}`;
    try {
      const tenant = await sandfleetRole(sandboxes);
      await kubectl(["create", "namespace", home]);
      // Its service account and roles, as --apply makes them (the replicas themselves are not needed here).
      const list = JSON.parse(await agentManifestsCli(sandboxes, image, "--agent-namespace", home, "--json")) as {
        items: { kind: string }[];
      };
      const file = join(tmpdir(), `sandfleet-agent-${home}.json`);
      writeFileSync(file, JSON.stringify({ ...list, items: list.items.filter((o) => o.kind !== "Deployment") }));
      // Objects of two namespaces: kubectl without the helper's namespace.
      await run(KUBECTL, ["--kubeconfig", TEST_CLUSTER.kubeconfig ?? "", "apply", "-f", file]);
      // A pod naming the agent's service account in the tenant's namespace names one that is not there.
      const asAgent = join(tmpdir(), `sandfleet-as-agent-${home}.yaml`);
      writeFileSync(
        asAgent,
        [
          "apiVersion: v1",
          "kind: Pod",
          `metadata: { name: as-agent, namespace: ${sandboxes} }`,
          "spec:",
          "  serviceAccountName: sandfleet-agent",
          "  securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: RuntimeDefault } }",
          `  containers: [{ name: c, image: ${image}, command: [/bin/sleep, "60"], securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: [ALL] } } }]`,
        ].join("\n"),
      );
      const made = await run(KUBECTL, ["--kubeconfig", tenant.options.kubeconfig, "create", "-f", asAgent]).then(
        () => "created",
        (error: unknown) => ((error as { stderr?: string }).stderr ?? String(error)).trim(),
      );
      expect(made).toMatch(/serviceaccount "sandfleet-agent" not found/i);
      expect(
        (
          await kubectl(["auth", "can-i", "--as", tenant.user, "create", "pods", "-n", home]).catch(
            (error: unknown) => (error as { stdout?: string }).stdout ?? "",
          )
        ).trim(),
      ).toBe("no");
    } finally {
      for (const ns of [sandboxes, home]) await kubectl(["delete", "namespace", ns, "--wait=false"]);
    }
  });
});

describe("tunnels and connect tokens on Kubernetes", () => {
  const app = uniqueApp("k8s-tun");
  // Each serves its name on its declared port 8080, and on 9090, a port it never declared.
  const serving = (label: string) =>
    `mkdir -p /tmp/www && echo ${label} > /tmp/www/index.html && httpd -p 9090 -h /tmp/www && exec httpd -f -p 8080 -h /tmp/www`;
  const make = (label: string) =>
    sandfleet.sandboxes.create({
      app,
      name: label,
      image: "sandfleet/busybox",
      user: "1000:1000",
      memoryMiB: 32,
      network: "app",
      ports: [8080],
      command: ["sh", "-c", serving(label)],
      readiness: { tcpPort: 8080, intervalMs: 50 },
      timeoutMs: 15 * 60_000,
    });
  let a: Sandbox, b: Sandbox;
  let gateway: Awaited<ReturnType<typeof serveGateway>>;
  const stranger = `sf-${randomBytes(6).toString("hex")}`;

  beforeAll(async () => {
    await createAppNetwork(engine, app, false);
    [a, b] = await Promise.all([make("A"), make("B")]);
    await Promise.all([a.waitUntilReady(), b.waitUntilReady()]);
    gateway = await serveGateway(sandfleet, { address: "127.0.0.1:0" });
  });
  afterAll(async () => {
    await (gateway as typeof gateway | undefined)?.close();
    await kubectl(["delete", "pod", stranger, "--ignore-not-found", "--wait=false"]);
    await cleanupBackend(engine, app);
  });

  it("listens on 127.0.0.1 only: no other address of this host answers on a tunnel's port", async () => {
    const [tunnel] = await a.tunnels();
    expect(tunnel?.host).toBe("127.0.0.1");
    const port = tunnel?.hostPort ?? 0;
    expect(await answersAt("127.0.0.1", port)).toBe(true);
    // Every other address of this host (link-local ones need a scope, and are no better than these).
    const others = Object.values(networkInterfaces())
      .flatMap((addresses) => addresses ?? [])
      .map((address) => address.address)
      .filter((address) => address !== "127.0.0.1" && !address.startsWith("fe80:"));
    const reached = [];
    for (const host of ["127.0.0.2", "::1", ...others]) if (await answersAt(host, port)) reached.push(host);
    expect(others.length).toBeGreaterThan(0);
    expect(reached).toEqual([]);
  });

  it("gives a token for sandbox A nothing of sandbox B, nor of another port of A", async () => {
    const [ta, tb] = await Promise.all([
      a.createConnectToken({ gatewayUrl: gateway.url }),
      b.createConnectToken({ gatewayUrl: gateway.url }),
    ]);
    const originA = new URL(ta.url).origin;
    const originB = new URL(tb.url).origin;
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    expect((await fetchLoopback(`${originA}/`, { headers: bearer(ta.token) })).body).toBe("A\n");
    expect((await fetchLoopback(`${originB}/`, { headers: bearer(tb.token) })).body).toBe("B\n");
    // A's token at B's origin, in every place a token goes: refused, never B's answer.
    const atB = [
      await fetchLoopback(`${originB}/`, { headers: bearer(ta.token) }),
      await fetchLoopback(`${originB}/?sandfleet_token=${ta.token}`),
      await fetchLoopback(`${originB}/`, { headers: { cookie: `sandfleet_connect=${ta.token}` } }),
      await upgradeLoopback(`${originB}/`, { headers: { ...bearer(ta.token), origin: originB } }),
    ];
    for (const answer of atB) {
      expect(answer.status).toBe(421);
      expect(answer.body).not.toContain("B");
    }
    // A's token at the origin of A's undeclared port 9090, which answers inside the pod: refused too.
    const port9090 = new URL(originA);
    port9090.hostname = port9090.hostname.replace(originLabel(a.id, 8080), originLabel(a.id, 9090));
    expect(port9090.origin).not.toBe(originA);
    expect((await fetchLoopback(`${port9090.origin}/`, { headers: bearer(ta.token) })).status).toBe(421);
    await expect(a.createConnectToken({ port: 9090, gatewayUrl: gateway.url })).rejects.toThrow(/not published/);
  });

  it("points a port-forward at no other pod or port than the one named", async () => {
    // 9090 answers inside A; the forward refuses it before the API server is asked.
    expect((await a.run(["sh", "-c", "wget -q -O - http://127.0.0.1:9090/"])).stdout).toBe("A\n");
    await expect(engine.containers.connect(a.id, 9090)).rejects.toThrow(/port 9090 is not one that sandbox .* serves/);
    for (const port of [0, -1, 65_536, 8080.5, Number.NaN])
      await expect(engine.containers.connect(a.id, port), String(port)).rejects.toThrow(/not a TCP port/);
    // Names that are not a sandbox pod's id: refused, whatever they would make of the API's path.
    for (const id of [
      `${a.id}/../${b.id}`,
      `${a.id}?ports=9090`,
      `${a.id}/portforward?ports=9090#`,
      "../../kube-system/pods/x",
      a.name,
      `${app}-A`,
      "sf-000000000000",
    ])
      await expect(engine.containers.connect(id, 8080), id).rejects.toThrow(/no such sandbox pod/);
    // A pod of the namespace that sandfleet did not make, named like one of its own and serving 8080.
    const image = (await kubectl(["get", "pod", a.id, "-o", "jsonpath={.spec.containers[0].image}"])).trim();
    const dir = mkdtempSync(join(tmpdir(), "sf-stranger-"));
    const file = join(dir, "pod.yaml");
    writeFileSync(
      file,
      [
        "apiVersion: v1",
        "kind: Pod",
        `metadata: { name: ${stranger} }`,
        "spec:",
        "  securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: RuntimeDefault } }",
        `  containers: [{ name: sandbox, image: "${image}", command: [sh, -c, "mkdir -p /tmp/w && echo stranger > /tmp/w/index.html && exec httpd -f -p 8080 -h /tmp/w"], ports: [{ containerPort: 8080 }], securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: [ALL] } } }]`,
      ].join("\n"),
    );
    try {
      await kubectl(["create", "-f", file]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await kubectl(["wait", "--for=condition=Ready", `pod/${stranger}`, "--timeout=120s"]);
    await expect(engine.containers.connect(stranger, 8080)).rejects.toThrow(/no such sandbox pod/);
    // The forward to A's declared port reaches A, and only A.
    const stream = await engine.containers.connect(a.id, 8080);
    const answer = await new Promise<string>((resolve, reject) => {
      let got = "";
      stream.on("data", (chunk: Buffer) => (got += chunk.toString()));
      stream.on("end", () => {
        resolve(got);
      });
      stream.on("error", reject);
      stream.write("GET / HTTP/1.0\r\n\r\n");
    });
    expect(answer).toMatch(/\r\n\r\nA\n$/);
  });
});

describe("an egress allowlist on Kubernetes, attacked from inside its sandbox", () => {
  const app = uniqueApp("k8s-egress-attack");
  const common = { app, image: "sandfleet/busybox", user: "1000:1000", memoryMiB: 32, timeoutMs: 15 * 60_000 };
  const nodes = ["sandfleet-node-1", "sandfleet-node-2"];
  const tag = suffix();
  // Listener pods of the test's own (no sandfleet policy selects them): one listed, one not, on each node.
  const pods = { listed: {} as Record<string, string>, other: {} as Record<string, string> };
  const podNames = nodes.flatMap((_, i) => [
    `sf-attack-listed-${tag}-${String(i)}`,
    `sf-attack-other-${tag}-${String(i)}`,
  ]);
  // A link-local address of the host's own, on a link the test makes: a metadata service stands in there.
  const dummy = `sfeg${tag.slice(0, 6)}`;
  const linkLocal = `169.254.77.${String(10 + Math.floor(Math.random() * 200))}`;
  const port = 20_000 + Math.floor(Math.random() * 10_000);
  const arrivals: string[] = [];
  let web: Server | undefined;
  let dns: UdpSocket | undefined;
  const listeners: ChildProcess[] = [];
  let attacker: Sandbox, control: Sandbox, wide: Sandbox;

  const nodeOf = async (sandbox: Sandbox) => (await placeOf(sandbox.id)).node;
  const onItsNode = async (sandbox: Sandbox, which: "listed" | "other") =>
    `http://${pods[which][await nodeOf(sandbox)] ?? ""}:8080/`;
  /** Sends a DNS query for a name carrying data to `server`:53, as a tunnel would. */
  const tunnel = (from: Sandbox, server: string, data: string) =>
    from.run(["sh", "-c", `timeout 3 nslookup ${data}.tunnel.example ${server} >/dev/null 2>&1; true`]);
  /** Whether a TCP connection from inside the sandbox opens within 3 s. */
  const connects = async (from: Sandbox, host: string, to: number) => {
    const result = await from.run([
      "sh",
      "-c",
      `timeout 3 nc ${host} ${String(to)} </dev/null && echo OPEN || echo NO`,
    ]);
    return result.stdout.trim() === "OPEN";
  };

  beforeAll(async () => {
    // A veth pair whose ends both stay on the host (this kernel has no dummy links): the address is the host's.
    await run("ip", ["link", "add", dummy, "type", "veth", "peer", "name", `${dummy}p`]);
    await run("ip", ["addr", "add", `${linkLocal}/32`, "dev", dummy]);
    await run("ip", ["link", "set", `${dummy}p`, "up"]);
    await run("ip", ["link", "set", dummy, "up"]);
    web = createServer((_, res) => res.end("metadata"));
    await new Promise<void>((resolve) => web?.listen(80, linkLocal, resolve));
    dns = createSocket("udp4", (message) => arrivals.push(message.toString("latin1")));
    await new Promise<void>((resolve) => dns?.bind(53, linkLocal, resolve));
    control = await sandfleet.sandboxes.create({ ...common, name: "control", egress: { allow: [] } });
    const image = (await kubectl(["get", "pod", control.id, "-o", "jsonpath={.spec.containers[0].image}"])).trim();
    await Promise.all(
      nodes.map(async (node, i) => {
        pods.listed[node] = await listenerPod(podNames[2 * i] ?? "", node, image);
        pods.other[node] = await listenerPod(podNames[2 * i + 1] ?? "", node, image);
      }),
    );
    for (const node of nodes) {
      const child = spawn("ip", [
        "netns",
        "exec",
        `sfk-n${node.replace(/^sandfleet-node-/, "")}`,
        process.execPath,
        "-e",
        `require('node:http').createServer((q, r) => r.end('node')).listen(${String(port)}, '0.0.0.0', () => console.log('up'))`,
      ]);
      listeners.push(child);
      await new Promise<void>((resolve) => {
        child.stdout.once("data", () => {
          resolve();
        });
      });
    }
    attacker = await sandfleet.sandboxes.create({
      ...common,
      name: "attacker",
      egress: { allow: Object.values(pods.listed) },
    });
    // What the attacker is refused answers a sandbox whose list names it: its refusals are the list's.
    await control.setEgress({ allow: [...Object.values(pods.other), `${linkLocal}/32`, "10.250.0.1"] });
    // Its own node and the host, listed: Docker never lets a sandbox reach its engine's host but for DNS.
    wide = await sandfleet.sandboxes.create({ ...common, name: "wide", egress: { allow: ["10.250.0.0/24"] } });
  });
  afterAll(async () => {
    for (const listener of listeners) listener.kill();
    web?.close();
    dns?.close();
    await run("ip", ["link", "del", dummy]).catch(() => undefined);
    await kubectl(["delete", "pod", "--ignore-not-found", "--wait=false", ...podNames]);
    await cleanupBackend(engine, app);
  });

  it("reaches its listed pod, and no other pod, the API server, a link-local address or a DNS server", async () => {
    await until(
      "the listed pod answers",
      async () => await reaches(attacker, await onItsNode(attacker, "listed")),
      60_000,
    );
    await until(
      "the control reaches the other pod",
      async () => reaches(control, await onItsNode(control, "other")),
      60_000,
    );
    expect(await reaches(control, `http://${linkLocal}/`)).toBe(true);
    expect(await connects(control, "10.250.0.1", 16443)).toBe(true);
    await tunnel(control, linkLocal, "control");
    await until("the control's query arrives", () => Promise.resolve(arrivals.some((a) => a.includes("control"))));

    const reached = [];
    if (await reaches(attacker, await onItsNode(attacker, "other"))) reached.push("a pod off its list");
    if (await reaches(attacker, `http://${linkLocal}/`)) reached.push("a link-local address (metadata)");
    if (await reaches(attacker, "http://169.254.169.254/")) reached.push("169.254.169.254");
    if (await connects(attacker, "10.250.0.1", 16443)) reached.push("the API server");
    if (await connects(attacker, "10.96.0.1", 443)) reached.push("the API server's service address");
    if (await reaches(attacker, `http://${(await placeOf(attacker.id)).hostIP}:${String(port)}/`))
      reached.push("its node");
    await tunnel(attacker, linkLocal, "attacker");
    const resolver = (
      await attacker.run(["sh", "-c", "awk '/^nameserver/ { print $2; exit }' /etc/resolv.conf"])
    ).stdout.trim();
    if (resolver) await tunnel(attacker, resolver, "attacker");
    // The control's later query shows the listener still hears: the attacker's, sent before it, never came.
    await tunnel(control, linkLocal, "after");
    await until("the control's second query arrives", () => Promise.resolve(arrivals.some((a) => a.includes("after"))));
    if (arrivals.some((a) => a.includes("attacker"))) reached.push("a DNS server (a tunnel's query arrived)");
    expect(reached).toEqual([]);
  });

  it("never reaches its own node, even with the node's address on its list", async () => {
    const place = await placeOf(wide.id);
    // The listener answers on the node's address (the host reaches it): a "no" below is the node's rules.
    expect(await (await fetch(`http://${place.hostIP}:${String(port)}/`)).text()).toBe("node");
    const gateway = place.podIP.replace(/\.\d+$/, ".1");
    await until("the listed host answers", () => connects(wide, "10.250.0.1", 16443), 60_000);
    expect(await reaches(wide, `http://${place.hostIP}:${String(port)}/`)).toBe(false);
    expect(await reaches(wide, `http://${gateway}:${String(port)}/`)).toBe(false);
  });
});
