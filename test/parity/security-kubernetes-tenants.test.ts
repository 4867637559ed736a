// Attacks on sandfleet's Kubernetes engine, on the parity suite's cluster:
// - a namespace that enforces Pod Security "restricted" refusing sandfleet's pods, or refusing them
//   with an error nobody can act on;
// - a tenant holding sandfleet's role (examples/kubernetes/rbac.yaml) reading other namespaces' pods
//   through a node's proxy, acting in another namespace, or starting a pod that mounts the node's /;
// - a sandbox, a neighbour's pod or a tenant using the agent's service-account token, or reaching
//   its metrics port;
// - a tunnel reached from another address of this host, a connect token for one sandbox used for
//   another, and a port-forward pointed at another pod or port than the one named.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
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
import { sandfleetRole } from "../support/sandfleet-role.ts";
import { until } from "../support/until.ts";
import { run, engine, sandfleet, suffix, reaches } from "../support/kubernetes-attack.ts";

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
    await kubectl(["delete", "namespace", namespace, "--wait=false", "--ignore-not-found"]);
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
    await kubectl(["delete", "namespace", namespace, "--wait=false", "--ignore-not-found"]);
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
    for (const ns of [namespace, neighbour])
      await kubectl(["delete", "namespace", ns, "--wait=false", "--ignore-not-found"]);
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
      for (const ns of [sandboxes, home])
        await kubectl(["delete", "namespace", ns, "--wait=false", "--ignore-not-found"]);
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
    await kubectl(["delete", "pod", stranger, "--ignore-not-found", "--wait=false", "--ignore-not-found"]);
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
