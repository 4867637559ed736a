// What sandfleet may do in its namespace, and nothing more: the one place the
// rules are written. examples/kubernetes/rbac.yaml spells them out for whoever
// deploys (a unit test keeps it equal), and `sandfleet agent manifests` binds
// them to the agent's own service account.

/** One rule of a Role, as the RBAC API writes it. */
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** The name of the Role (and of the deployer's service account that examples/kubernetes/rbac.yaml makes). */
export const SANDFLEET_ROLE = "sandfleet";

/** Everything in one namespace: a role that can create pods needs Pod Security "restricted" on it. */
export const SANDFLEET_ROLE_RULES: readonly PolicyRule[] = [
  // Sandboxes and pool members are pods: made, claimed (a patch conditioned on the
  // pod's resourceVersion), resized in place, ended and removed.
  { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "create", "patch", "delete"] },
  { apiGroups: [""], resources: ["pods/exec"], verbs: ["get", "create"] },
  { apiGroups: [""], resources: ["pods/log"], verbs: ["get"] },
  // Tunnels and the gateway reach a sandbox's declared port through the API server's port-forward.
  // Its WebSocket is a GET that the API server authorizes as both verbs, as it does an exec's.
  { apiGroups: [""], resources: ["pods/portforward"], verbs: ["get", "create"] },
  { apiGroups: [""], resources: ["pods/resize"], verbs: ["patch"] },
  // A sandbox's environment (secrets' values among it) is a Secret its pod reads.
  { apiGroups: [""], resources: ["secrets"], verbs: ["get", "create", "patch", "delete"] },
  // Records (pools, claims, tags, deadlines, webhooks, connect tokens) are ConfigMaps.
  { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "create", "delete"] },
  { apiGroups: [""], resources: ["persistentvolumeclaims"], verbs: ["get", "list", "create", "delete"] },
  { apiGroups: ["networking.k8s.io"], resources: ["networkpolicies"], verbs: ["get", "list", "create", "delete"] },
  // The namespace's quotas: what `sandfleet validate --capacity` measures a fleet against.
  { apiGroups: [""], resources: ["resourcequotas"], verbs: ["get", "list"] },
];

/**
 * The agent's lease, and only it: read and renewed by name. Creating cannot be
 * limited to a name (the API has no name before the object exists), so the
 * role may create other leases, which nothing of sandfleet's reads.
 */
export function leaseRules(lease: string): PolicyRule[] {
  return [
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "update"], resourceNames: [lease] },
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
  ];
}
