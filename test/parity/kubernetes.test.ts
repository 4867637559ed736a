// What each concept becomes on Kubernetes, read back from the API server,
// and the code-interpreter example through the real pulumi CLI on the cluster.
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandfleet } from "../../provider/client/sandfleet.ts";
import { connectEngine } from "../../provider/engines/connect.ts";
import { kubeName } from "../../provider/engines/kubernetes/labels.ts";
import { KUBERNETES_LIMITS } from "../../provider/engines/kubernetes/limits.ts";
import { NOT_INTERNET } from "../../provider/engines/kubernetes/networks.ts";
import { listMembers } from "../../provider/runtime/pools/pool.ts";
import { backendLeftovers, cleanupBackend } from "../support/backends.ts";
import { sandfleet as runCli } from "../support/cli.ts";
import { TEST_CLUSTER } from "../support/cluster.ts";
import { uniqueApp } from "../support/engine.ts";
import { until } from "../support/until.ts";
import { exampleStack } from "../support/example-stack.ts";
import { kubectl } from "../support/kubectl.ts";

const engine = connectEngine({ kubernetes: TEST_CLUSTER });
const sandfleet = new Sandfleet({ kubernetes: TEST_CLUSTER });

interface PodJson {
  metadata: { labels: Record<string, string>; annotations: Record<string, string> };
  spec: {
    automountServiceAccountToken?: boolean;
    enableServiceLinks?: boolean;
    restartPolicy: string;
    runtimeClassName?: string;
    securityContext: { seccompProfile?: { type: string } };
    containers: {
      image: string;
      env?: unknown[];
      envFrom?: { secretRef: { name: string } }[];
      securityContext: Record<string, unknown>;
      resources: { limits: Record<string, string> };
    }[];
  };
}
const podJson = async (id: string) => JSON.parse(await kubectl(["get", "pod", id, "-o", "json"])) as PodJson;

describe("the Kubernetes mapping", () => {
  const app = uniqueApp("k8s-map");
  afterAll(() => cleanupBackend(engine, app));

  it("makes a sandbox a hardened pod: no token, no service links, capabilities dropped, limits set", async () => {
    await using sandbox = await sandfleet.sandboxes.create({
      app,
      image: "sandfleet/busybox",
      user: "1000:1000",
      memoryMiB: 64,
      cpu: 0.5,
      diskMiB: 128,
      readOnlyRootfs: true,
      env: { GREETING: "hello from the pod" },
    });
    const pod = await podJson(sandbox.id);
    expect(pod.spec).toMatchObject({
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      restartPolicy: "Never",
      securityContext: { seccompProfile: { type: "RuntimeDefault" } },
    });
    const [container] = pod.spec.containers;
    expect(container?.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsUser: 1000,
      capabilities: { drop: ["ALL"] },
    });
    expect(container?.resources.limits).toEqual({
      cpu: "500m",
      memory: String(64 << 20),
      "ephemeral-storage": String(128 << 20),
    });
    expect(container?.image).toMatch(/^10\.250\.0\.1:5000\/sandfleet\/images:/);
    // The environment is a Secret the pod reads: no value in the pod spec.
    expect(container?.env).toBeUndefined();
    expect(JSON.stringify(pod)).not.toContain("hello from the pod");
    expect((await sandbox.run(["sh", "-c", 'echo "$GREETING"; id -u; ls /var/run/secrets 2>&1'])).stdout).toBe(
      "hello from the pod\n1000\nls: /var/run/secrets: No such file or directory\n",
    );
  });

  it("gives every sandbox pod a default-deny network policy, and an app network a policy of its own", async () => {
    // The policy lives while any sandbox pod does (an app's end removes it after the last): one is held here.
    await using _held = await sandfleet.sandboxes.create({ app, image: "sandfleet/busybox", memoryMiB: 32 });
    const policies = JSON.parse(await kubectl(["get", "networkpolicy", "-o", "json"])) as {
      items: { metadata: { name: string }; spec: { policyTypes: string[]; ingress?: unknown[]; egress?: unknown[] } }[];
    };
    const deny = policies.items.find((p) => p.metadata.name === "sandfleet-default-deny");
    expect(deny?.spec).toMatchObject({ policyTypes: ["Ingress", "Egress"] });
    expect(deny?.spec.ingress).toBeUndefined();
    expect(deny?.spec.egress).toBeUndefined();
    await engine.networks.create({
      name: `sandfleet-${app}`,
      labels: { "sandfleet.app": app },
      internal: true,
      masquerade: false,
    });
    expect(await engine.networks.inspect(`sandfleet-${app}`)).toMatchObject({
      name: `sandfleet-${app}`,
      masquerade: false,
    });
    await engine.networks.remove(`sandfleet-${app}`);
    // internet: true adds every address but the private, shared, link-local and loopback ranges.
    await engine.networks.create({
      name: `sandfleet-${app}`,
      labels: { "sandfleet.app": app },
      internal: false,
      masquerade: true,
    });
    const online = JSON.parse(await kubectl(["get", "networkpolicy", kubeName(`sandfleet-${app}`), "-o", "json"])) as {
      spec: { egress: { to: { ipBlock?: { cidr: string; except: string[] } }[] }[] };
    };
    expect(online.spec.egress[0]?.to).toContainEqual({ ipBlock: { cidr: "0.0.0.0/0", except: NOT_INTERNET } });
    expect(NOT_INTERNET).toEqual(expect.arrayContaining(["10.0.0.0/8", "169.254.0.0/16"]));
    expect(await engine.networks.inspect(`sandfleet-${app}`)).toMatchObject({ masquerade: true });
    await engine.networks.remove(`sandfleet-${app}`);
  });

  it("keeps a volume's data across pods in a PersistentVolumeClaim", async () => {
    const volume = await sandfleet.volumes.fromName(app, "data", { createIfMissing: true });
    const first = await sandfleet.sandboxes.create({
      app,
      image: "sandfleet/busybox",
      volumes: [volume.mount("/data")],
    });
    await first.run(["sh", "-c", "echo kept > /data/file"]);
    await first.terminate();
    await using second = await sandfleet.sandboxes.create({
      app,
      image: "sandfleet/busybox",
      volumes: [volume.mount("/data", { readOnly: true })],
    });
    expect((await second.run(["cat", "/data/file"])).stdout).toBe("kept\n");
    expect(await kubectl(["get", "pvc", "-o", "name"])).toContain("persistentvolumeclaim/");
  });

  it("reads a pod's log, and refuses what Kubernetes cannot do, naming why", async () => {
    await using sandbox = await sandfleet.sandboxes.create({
      app,
      image: "sandfleet/busybox",
      command: ["sh", "-c", "echo started; exec sleep infinity"],
    });
    // The kubelet serves the log once the container's runtime has written it: waited on, not timed.
    await until("the pod's log showing its first line", async () => {
      const { stdout } = await engine.containers.logs(sandbox.id, { follow: false });
      let text = "";
      for await (const chunk of stdout) text += String(chunk);
      return text.includes("started");
    });
    await expect(sandbox.pause()).rejects.toThrow(KUBERNETES_LIMITS.pause);
    await expect(sandbox.snapshotFilesystem()).rejects.toThrow(KUBERNETES_LIMITS.snapshot);
    await expect(
      sandfleet.sandboxes.create({ app, image: "sandfleet/busybox", egress: { allow: ["pypi.org"] } }),
    ).rejects.toThrow(KUBERNETES_LIMITS.egressNames);
  });

  it("is reached by the CLI through SANDFLEET_KUBERNETES, as DOCKER_HOST reaches a Docker engine", async () => {
    await using sandbox = await sandfleet.sandboxes.create({ app, image: "sandfleet/busybox", tags: { via: "cli" } });
    const env = {
      KUBECONFIG: TEST_CLUSTER.kubeconfig ?? "",
      SANDFLEET_KUBERNETES: "/default",
      SANDFLEET_REGISTRY: TEST_CLUSTER.registry ?? "",
    };
    const exec = await runCli(["exec", sandbox.id, "--", "sh", "-c", "echo from the cli; exit 5"], { env });
    expect(exec).toMatchObject({ code: 5, stdout: "from the cli\n" });
    const listed = await runCli(["ls", "--app", app, "--json"], { env });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(sandbox.id);
  });

  it("spreads a pool's members over the nodes", async () => {
    const { poolProvider } = await import("../../provider/resources/pool-provider.ts");
    const checked = await poolProvider.check(
      {},
      {
        app,
        name: "spread",
        replicas: 4,
        template: { image: "sandfleet/busybox", memoryMiB: 32 },
        kubernetes: TEST_CLUSTER,
      },
    );
    await poolProvider.create(checked.inputs as Record<string, unknown>);
    const members = await listMembers(engine, app, "spread");
    const nodes = await Promise.all(
      members.map(
        async (m) =>
          (JSON.parse(await kubectl(["get", "pod", m.id, "-o", "json"])) as { spec: { nodeName: string } }).spec
            .nodeName,
      ),
    );
    expect(new Set(nodes).size).toBe(2);
  });
});

describe("the code-interpreter example on Kubernetes, with the real pulumi CLI", () => {
  const example = exampleStack("code-interpreter", (app) => cleanupBackend(engine, app));
  const secret = `model-key-${randomBytes(6).toString("hex")}`;
  beforeAll(async () => {
    await example.init();
    example.edit(
      (text) =>
        // A cluster bounds no sandbox's own processes, and `validate` refuses a file that asks it to.
        `kubernetes:\n  kubeconfig: ${TEST_CLUSTER.kubeconfig ?? ""}\n  namespace: default\n  registry: "${TEST_CLUSTER.registry ?? ""}"\n${text.replace(/^ +pids: \d+\n/gm, "")}`,
    );
    await example.stack.run(["config", "set", "--secret", "modelApiKey", secret]);
  });
  afterAll(() => example.dispose());

  it("brings up a ready pool of 3 pods whose members run cells and hold the secret, and destroys everything", async () => {
    const up = await example.stack.run(["up", "--yes", "--skip-preview"]);
    expect(up.stdout).toMatch(/pools\s*:\s*\{\s*python: 3/);
    const warm = (await listMembers(engine, example.app, "python")).filter((m) => m.state === "warm");
    expect(warm).toHaveLength(3);
    const sandbox = await sandfleet.sandboxes.claim(example.app, "python");
    const cell = await sandbox.run(["python3", "/opt/tools/run_cell.py"], { input: "print(sum(range(101)))\n" });
    expect(cell).toMatchObject({ exitCode: 0, stdout: "5050\n" });
    expect((await sandbox.run(["sh", "-c", 'echo "$MODEL_API_KEY"; id -un; pwd'])).stdout).toBe(
      `${secret}\nsandbox\n/workspace\n`,
    );
    expect(JSON.stringify(await podJson(sandbox.id))).not.toContain(secret);
    expect((await example.stack.run(["preview", "--diff"])).stdout).not.toMatch(/=>/);
    expect((await example.stack.run(["stack", "export"])).stdout).not.toContain(secret);
    await example.stack.run(["destroy", "--yes", "--skip-preview"]);
    expect(await backendLeftovers(engine, example.app)).toEqual([]);
  });
});

describe("sandfleet validate --capacity on a file that names a cluster", () => {
  it("measures the cluster the file names, not this machine's Docker engine", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sandfleet-k8s-capacity-"));
    const file = join(dir, "sandfleet.yaml");
    const target = `kubernetes:\n  kubeconfig: ${TEST_CLUSTER.kubeconfig ?? ""}\n  namespace: default\n  registry: "${TEST_CLUSTER.registry ?? ""}"\n`;
    const fleet = (replicas: number) =>
      `app: ${uniqueApp("k8s-cap")}\n${target}pools:\n  p:\n    replicas: ${String(replicas)}\n    template: { image: sandfleet/busybox, cpu: 0.5, memory: 64Mi }\n`;
    writeFileSync(file, fleet(1));
    expect(await runCli(["validate", file, "--capacity"])).toMatchObject({ code: 0, stdout: `${file}: valid\n` });
    writeFileSync(file, fleet(400));
    const tooBig = await runCli(["validate", file, "--capacity"]);
    expect(tooBig.code).toBe(1);
    expect(tooBig.stderr).toContain(`does not fit the engine at ${sandfleet.engine}`);
    expect(tooBig.stderr).not.toContain("docker.sock");
  });
});
