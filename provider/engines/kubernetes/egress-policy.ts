import type { V1NetworkPolicy, V1NetworkPolicyPeer } from "@kubernetes/client-node";
import { parseEgressEntry } from "../../egress-entries.ts";
import { InvalidArgumentError } from "../../errors.ts";
import type { EgressClient } from "../port.ts";
import type { KubeApis } from "./api.ts";
import type { KubeCall, KubeLookup } from "./errors.ts";
import { OWNED_LABEL } from "./labels.ts";
import { KUBERNETES_LIMITS } from "./limits.ts";

/** The label a pod with an egress allowlist carries, its own id: its policy selects it alone. */
export const EGRESS_LABEL = "sandfleet.io/egress";
/** Marks a pod's allowlist policy, so that it is never listed as an app's network. */
export const EGRESS_POLICY_LABEL = "sandfleet.io/egress-policy";

export const egressPolicyName = (podId: string): string => `${podId}-egress`;

/**
 * The ipBlock peers of an allowlist: an address as its /32, a CIDR as it is.
 * The grammar is provider/egress-entries.ts's (the one the Docker daemon
 * holds too); a name cannot be held by a NetworkPolicy and is refused here
 * as well as above, so no caller can slip one through.
 */
export function egressPeers(allow: readonly string[]): V1NetworkPolicyPeer[] {
  return allow.map((entry) => {
    const parsed = parseEgressEntry(entry);
    if ("problem" in parsed) throw new InvalidArgumentError(`egress: ${parsed.problem}`);
    if (parsed.kind === "domain" || parsed.kind === "wildcard") {
      throw new InvalidArgumentError(`egress: ${JSON.stringify(entry)}: ${KUBERNETES_LIMITS.egressNames}`);
    }
    return { ipBlock: { cidr: parsed.kind === "address" ? `${parsed.canonical}/32` : parsed.canonical } };
  });
}

/**
 * A sandbox pod's allowlist as a NetworkPolicy of its own: egress to its
 * addresses and CIDRs, beside the namespace's default deny (policies only
 * add, so everything else stays refused: other pods, the nodes, DNS, the
 * API server, link-local and metadata addresses, unless a listed range
 * covers them). Owned by the pod, so the cluster removes it with the pod
 * whoever removes that. An empty list has no rule at all: a rule with no
 * peers would allow everything.
 */
export function egressPolicyFor(
  podId: string,
  podUid: string,
  namespace: string,
  allow: readonly string[],
): V1NetworkPolicy {
  const peers = egressPeers(allow);
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: {
      name: egressPolicyName(podId),
      namespace,
      labels: { [OWNED_LABEL]: "true", [EGRESS_POLICY_LABEL]: "true" },
      ownerReferences: [{ apiVersion: "v1", kind: "Pod", name: podId, uid: podUid }],
    },
    spec: {
      podSelector: { matchLabels: { [EGRESS_LABEL]: podId } },
      policyTypes: ["Egress"],
      egress: peers.length > 0 ? [{ to: peers }] : [],
    },
  };
}

/** Makes, replaces and removes pods' allowlist policies. */
export function egressPolicies(
  apis: () => Promise<KubeApis>,
  call: KubeCall,
  lookup: KubeLookup,
  podUid: (podId: string) => Promise<string>,
): EgressClient & {
  create(podId: string, uid: string, allow: readonly string[]): Promise<void>;
  remove(podId: string): Promise<void>;
} {
  const create = async (podId: string, uid: string, allow: readonly string[]) => {
    const { networking, namespace } = await apis();
    const body = egressPolicyFor(podId, uid, namespace, allow);
    await call(`create the egress allowlist of pod ${podId}`, () =>
      networking.createNamespacedNetworkPolicy({ namespace, body }),
    );
  };
  const remove = async (podId: string) => {
    const { networking, namespace } = await apis();
    await lookup(`delete the egress allowlist of pod ${podId}`, () =>
      networking.deleteNamespacedNetworkPolicy({ name: egressPolicyName(podId), namespace }),
    );
  };
  return {
    create,
    remove,
    /**
     * The old policy goes before the new one comes: in between the pod reaches nothing (the
     * default deny), never the union of both lists. sandfleet's role creates and deletes
     * policies; it does not patch them.
     */
    async set(podId, allow) {
      egressPeers(allow); // a bad list is refused before the old one goes
      const uid = await podUid(podId);
      await remove(podId);
      await create(podId, uid, allow);
    },
  };
}
