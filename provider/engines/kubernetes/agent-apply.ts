// `sandfleet agent manifests --apply` and `--delete`: the manifest set sent
// to the cluster by server-side apply (idempotent, so a second apply after an
// upgrade rolls the Deployment), and removed with the lease the replicas made.
import { kubeApis } from "./api.ts";
import { AGENT_LABELS, AGENT_NAME, type KubeObject } from "./agent-manifests.ts";
import { kubeCalls } from "./errors.ts";
import { PATCH_TYPES } from "./kube-http/content-types.ts";
import { objectPath } from "./kube-http/object-paths.ts";
import { kubernetesHost, type KubernetesTarget } from "./target.ts";

const FIELD_MANAGER = "sandfleet";

/** Applies each object in order; returns `kind/name` of each. */
export async function applyAgentManifests(target: KubernetesTarget, objects: readonly KubeObject[]): Promise<string[]> {
  const { http, namespace } = await kubeApis(target)();
  const { call } = kubeCalls(kubernetesHost(target));
  const applied: string[] = [];
  for (const object of objects) {
    const what = `${object.kind}/${object.metadata.name} in ${object.metadata.namespace ?? ""}`;
    // Server-side apply: a PATCH whose body is the whole object (JSON is YAML), owned by sandfleet's field manager.
    await call(`apply ${what}`, () =>
      http.json("PATCH", objectPath(object, namespace), {
        query: { fieldManager: FIELD_MANAGER, force: true },
        body: object,
        contentType: PATCH_TYPES.apply,
      }),
    );
    applied.push(what);
  }
  return applied;
}

/** Removes the objects (the reverse of their order) and the agent's lease; returns what was there. */
export async function deleteAgentManifests(
  target: KubernetesTarget,
  objects: readonly KubeObject[],
): Promise<string[]> {
  // The replicas and their lease are where the Deployment is.
  const namespace = objects.find((o) => o.kind === "Deployment")?.metadata.namespace ?? target.namespace ?? "default";
  const { http, core } = await kubeApis(target)();
  const { call, lookup } = kubeCalls(kubernetesHost(target));
  const lease: KubeObject = {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: { name: AGENT_NAME, namespace },
  };
  const removed: string[] = [];
  const remove = async (object: KubeObject) => {
    const what = `${object.kind}/${object.metadata.name} in ${object.metadata.namespace ?? namespace}`;
    const gone = await lookup(`delete ${what}`, () =>
      http.json("DELETE", objectPath(object, namespace), { query: { propagationPolicy: "Foreground" } }),
    );
    if (gone !== undefined) removed.push(what);
  };
  const selector = Object.entries(AGENT_LABELS)
    .map(([key, value]) => `${key}=${value}`)
    .join(",");
  const replicasGone = async () => {
    const deadline = Date.now() + REPLICAS_GONE_MS;
    while (Date.now() < deadline) {
      const pods = await call("list the agent's pods", () =>
        core.listNamespacedPod({ namespace, labelSelector: selector }),
      );
      if (pods.items.length === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  };
  // The Deployment first; its replicas stop (giving the lease up, with the role still theirs)
  // before their role goes; the lease last, once no replica is left to take it again.
  for (const object of [...objects].reverse()) {
    await remove(object);
    if (object.kind === "Deployment") await replicasGone();
  }
  await remove(lease);
  return removed;
}

/** How long `--delete` waits for the replicas to stop (their grace period is 30 s) before removing the lease. */
const REPLICAS_GONE_MS = 45_000;
