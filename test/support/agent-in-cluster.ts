// The agent as a workload of the test cluster: its image built offline
// (scripts/lib/agent-image.sh) and pushed to the cluster's registry, and a
// namespace of the test's own with the manifests `sandfleet agent manifests`
// prints, applied by the CLI.
import { randomBytes } from "node:crypto";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { sandfleet as runCli } from "./cli.ts";
import { machineLock } from "./machine-lock.ts";
import { TEST_CLUSTER } from "./cluster.ts";
import { kubectl } from "./kubectl.ts";

const run = promisify(execFile);
const imageScript = new URL("../../scripts/lib/agent-image.sh", import.meta.url).pathname;
const withEnv = new URL("../../scripts/with-env", import.meta.url).pathname;

/** The address of the test cluster's API server as its pods reach it (there is no kube-proxy for the Service). */
export const API_SERVER_FROM_PODS = "10.250.0.1:16443";

let pushed: Promise<string> | undefined;

/** The agent's image as the test cluster's nodes pull it: built when its recipe changed, pushed once per run. */
export function agentImage(): Promise<string> {
  pushed ??= (async () => {
    // Test files that need the agent run side by side: two pushes of the same layers at once leave
    // the registry with a manifest whose blobs it refuses ("blob unknown"), so one builds and pushes at a time.
    const release = await machineLock("agent-image", 600_000);
    try {
      const { stdout } = await run("bash", [withEnv, "bash", imageScript], { maxBuffer: 1 << 24 });
      const local = stdout.trim().split("\n").pop() ?? "";
      const remote = `${TEST_CLUSTER.registry ?? ""}/${local}`;
      await run("docker", ["tag", local, remote]);
      await run("docker", ["push", remote], { maxBuffer: 1 << 24 });
      return remote;
    } finally {
      release();
    }
  })();
  return pushed;
}

/** A fresh namespace enforcing Pod Security "restricted", named for the test. */
export async function restrictedNamespace(prefix: string): Promise<string> {
  const namespace = `${prefix}-${randomBytes(3).toString("hex")}`;
  await kubectl(["create", "namespace", namespace]);
  await kubectl(["label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted"]);
  return namespace;
}

/** `sandfleet agent manifests ...` against the test cluster as its admin; throws with the CLI's words on failure. */
export async function agentManifestsCli(namespace: string, image: string, ...extra: string[]): Promise<string> {
  const result = await runCli(
    [
      "agent",
      "manifests",
      "--namespace",
      namespace,
      "--image",
      image,
      "--registry",
      TEST_CLUSTER.registry ?? "",
      "--api-server",
      API_SERVER_FROM_PODS,
      ...extra,
    ],
    { env: { KUBECONFIG: TEST_CLUSTER.kubeconfig ?? "", SANDFLEET_KUBERNETES: "", SANDFLEET_REGISTRY: "" } },
  );
  if (result.code !== 0) throw new Error(`sandfleet agent manifests ${extra.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

export interface LeaseJson {
  spec: {
    holderIdentity?: string;
    leaseTransitions?: number;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
  };
}

/** The agent's lease in the namespace as the API server holds it (an empty spec when there is none). */
export async function lease(namespace: string): Promise<LeaseJson> {
  const out = await kubectl(["-n", namespace, "get", "lease", "sandfleet-agent", "-o", "json", "--ignore-not-found"]);
  return out.trim() ? (JSON.parse(out) as LeaseJson) : { spec: {} };
}

/** Who holds the agent's lease in the namespace, or "" when nobody (or no lease). */
export async function leaseHolder(namespace: string): Promise<string> {
  return (await lease(namespace)).spec.holderIdentity ?? "";
}

/** The agent's pods in the namespace that run and are Ready (not being deleted). */
export async function readyAgentPods(namespace: string): Promise<string[]> {
  const out = await kubectl([
    "-n",
    namespace,
    "get",
    "pods",
    "-l",
    "app.kubernetes.io/name=sandfleet-agent",
    "-o",
    "json",
  ]);
  const pods = JSON.parse(out) as {
    items: {
      metadata: { name: string; deletionTimestamp?: string };
      status: { conditions?: { type: string; status: string }[] };
    }[];
  };
  return pods.items
    .filter((p) => !p.metadata.deletionTimestamp)
    .filter((p) => p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"))
    .map((p) => p.metadata.name);
}

/** A pod's log lines as JSON (the agent runs with --json); lines that are not JSON are left out. */
export async function agentLog(
  namespace: string,
  pod: string,
): Promise<{ time: string; action: string; detail?: string; sandbox?: string }[]> {
  const out = await kubectl(["-n", namespace, "logs", pod]);
  return out.split("\n").flatMap((line) => {
    try {
      return [JSON.parse(line) as { time: string; action: string; detail?: string; sandbox?: string }];
    } catch {
      return [];
    }
  });
}

/** What a replica's metrics endpoint serves, read inside its own pod. */
export async function agentMetricsText(namespace: string, pod: string): Promise<string> {
  return kubectl(["-n", namespace, "exec", pod, "--", "wget", "-qO-", "http://127.0.0.1:9464/metrics"]);
}
