// `sandfleet agent manifests`: the agent as a workload of the cluster, printed
// as YAML, applied, or removed.
import { agentManifests, applyAgentManifests, deleteAgentManifests, kubernetesFromEnvironment } from "../../index.ts";
import { EXIT, stringOption, UsageError, type Values } from "../verb.ts";

export const AGENT_MANIFEST_OPTIONS = {
  namespace: { type: "string" },
  "agent-namespace": { type: "string" },
  image: { type: "string" },
  registry: { type: "string" },
  "api-server": { type: "string" },
  replicas: { type: "string" },
  apply: { type: "boolean" },
  delete: { type: "boolean" },
} as const;

export async function runAgentManifests(values: Values, json: boolean): Promise<number> {
  const target = kubernetesFromEnvironment() ?? {};
  const namespace = stringOption(values, "namespace") ?? target.namespace;
  if (!namespace) throw new UsageError("agent manifests needs --namespace (or SANDFLEET_KUBERNETES=context/namespace)");
  const image = stringOption(values, "image");
  if (!image) throw new UsageError("agent manifests needs --image, the agent's image as the nodes pull it");
  const replicas = stringOption(values, "replicas");
  if (replicas !== undefined && !/^[0-9]+$/.test(replicas))
    throw new UsageError(`--replicas ${JSON.stringify(replicas)} is not a whole number`);
  if (values.apply === true && values.delete === true)
    throw new UsageError("--apply and --delete are each other's undoing: give one");
  const objects = agentManifests({
    namespace,
    agentNamespace: stringOption(values, "agent-namespace"),
    image,
    registry: stringOption(values, "registry") ?? target.registry,
    apiServer: stringOption(values, "api-server"),
    app: stringOption(values, "app"),
    ...(replicas !== undefined ? { replicas: Number(replicas) } : {}),
  });
  if (values.apply !== true && values.delete !== true) {
    if (json) console.log(JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }, null, 2));
    else {
      const { stringify } = await import("yaml");
      console.log(objects.map((object) => stringify(object, { lineWidth: 0 }).trimEnd()).join("\n---\n"));
    }
    return EXIT.ok;
  }
  // The cluster of KUBECONFIG (its context from SANDFLEET_KUBERNETES), whatever namespace the objects name.
  const cluster = { ...target, namespace };
  const done =
    values.apply === true ? await applyAgentManifests(cluster, objects) : await deleteAgentManifests(cluster, objects);
  const verb = values.apply === true ? "applied" : "deleted";
  if (json) console.log(JSON.stringify({ [verb]: done }));
  else for (const what of done) console.log(`${verb} ${what}`);
  return EXIT.ok;
}
