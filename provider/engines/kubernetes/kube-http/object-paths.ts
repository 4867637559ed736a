import { InvalidArgumentError } from "../../../errors.ts";

/** The kinds sandfleet writes as whole objects (the agent's manifests and its lease), by apiVersion and kind: their plural. */
const PLURALS: Record<string, string> = {
  "v1 ServiceAccount": "serviceaccounts",
  "v1 Service": "services",
  "v1 ConfigMap": "configmaps",
  "v1 Secret": "secrets",
  "rbac.authorization.k8s.io/v1 Role": "roles",
  "rbac.authorization.k8s.io/v1 RoleBinding": "rolebindings",
  "apps/v1 Deployment": "deployments",
  "networking.k8s.io/v1 NetworkPolicy": "networkpolicies",
  "coordination.k8s.io/v1 Lease": "leases",
};

/**
 * The API path of a namespaced object, from its apiVersion, kind, namespace
 * (default `namespace`) and name: known kinds only, so no discovery call is
 * made to learn what a kind is called.
 */
export function objectPath(
  object: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } },
  namespace: string,
): string {
  const plural = PLURALS[`${object.apiVersion} ${object.kind}`];
  if (!plural)
    throw new InvalidArgumentError(`sandfleet does not write ${object.kind} objects of ${object.apiVersion}`);
  const group = object.apiVersion.includes("/") ? `/apis/${object.apiVersion}` : `/api/${object.apiVersion}`;
  const at = encodeURIComponent(object.metadata.namespace ?? namespace);
  return `${group}/namespaces/${at}/${plural}/${encodeURIComponent(object.metadata.name)}`;
}
