import type { V1NetworkPolicy } from "@kubernetes/client-node";
import { ConflictError } from "../../errors.ts";
import type { NetworkClient, NetworkInfo } from "../port.ts";
import type { KubeApis } from "./api.ts";
import { EGRESS_POLICY_LABEL } from "./egress-policy.ts";
import type { KubeCall, KubeLookup } from "./errors.ts";
import { kubeMetadata, kubeName, labelsOf, nameOf, OWNED_LABEL, selectorFor } from "./labels.ts";
import { NETWORK_LABEL, networkLabelValue } from "./pod-spec.ts";

/** Denies every sandbox pod all traffic in and out, unless a network's policy lets it talk to its own network. */
export const DEFAULT_DENY_POLICY = "sandfleet-default-deny";

/**
 * What "the internet" leaves out: the private, shared, link-local (cloud
 * metadata at 169.254.169.254) and loopback ranges, where the cluster's own
 * pods, nodes and services live. An app with `internet: true` reaches
 * everything else; its pods still reach other apps' pods nowhere.
 */
export const NOT_INTERNET = [
  "10.0.0.0/8",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "100.64.0.0/10",
  "169.254.0.0/16",
  "127.0.0.0/8",
];
const INTERNET = { ipBlock: { cidr: "0.0.0.0/0", except: NOT_INTERNET } };

/**
 * A network is a NetworkPolicy: the pods labelled with it may reach each
 * other, and nothing else but the internet when the app asks for it. A pod
 * on no network is held by the default deny alone: it reaches nothing and
 * nothing reaches it. Policies only hold on a cluster whose network plugin
 * enforces them (Calico, Cilium, ...).
 */
export function networkClient(
  apis: () => Promise<KubeApis>,
  call: KubeCall,
  lookup: KubeLookup,
): NetworkClient & {
  ensureDefaultDeny(): Promise<void>;
  confirmDefaultDeny(): Promise<void>;
} {
  const info = (policy: V1NetworkPolicy): NetworkInfo => ({
    id: nameOf(policy.metadata),
    name: nameOf(policy.metadata),
    labels: labelsOf(policy.metadata),
    internal: true,
    masquerade: (policy.spec?.egress ?? []).some((rule) => rule.to?.some((peer) => peer.ipBlock?.cidr === "0.0.0.0/0")),
    subnet: undefined,
    gateway: undefined,
    bridge: undefined,
  });
  const createDefaultDeny = async () => {
    const { networking, namespace } = await apis();
    try {
      await call("create the default-deny network policy", () =>
        networking.createNamespacedNetworkPolicy({
          namespace,
          body: {
            metadata: { name: DEFAULT_DENY_POLICY, labels: { [OWNED_LABEL]: "true" } },
            spec: { podSelector: { matchLabels: { [OWNED_LABEL]: "true" } }, policyTypes: ["Ingress", "Egress"] },
          },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
    }
  };
  let denied: Promise<void> | undefined;
  const ensureDefaultDeny = () => {
    denied ??= createDefaultDeny();
    denied.catch(() => (denied = undefined));
    return denied;
  };
  return {
    ensureDefaultDeny,
    /**
     * After a pod is made, the policy is there: one removed by hand since this client made it is
     * made again (a pod whose creation cannot confirm it is removed).
     */
    async confirmDefaultDeny() {
      const { networking, namespace } = await apis();
      const found = await lookup("read the default-deny network policy", () =>
        networking.readNamespacedNetworkPolicy({ name: DEFAULT_DENY_POLICY, namespace }),
      );
      if (!found) {
        denied = undefined;
        await ensureDefaultDeny();
      }
    },
    async create(spec) {
      const { networking, namespace } = await apis();
      await ensureDefaultDeny();
      const members = { matchLabels: { [NETWORK_LABEL]: networkLabelValue(spec.name) } };
      await call(`create network ${spec.name}`, () =>
        networking.createNamespacedNetworkPolicy({
          namespace,
          body: {
            metadata: { name: kubeName(spec.name), ...kubeMetadata(spec.labels, spec.name) },
            spec: {
              podSelector: members,
              policyTypes: ["Ingress", "Egress"],
              ingress: [{ _from: [{ podSelector: members }] }],
              egress: [{ to: [{ podSelector: members }, ...(spec.masquerade ? [INTERNET] : [])] }],
            },
          },
        }),
      );
      return spec.name;
    },
    async inspect(idOrName) {
      const { networking, namespace } = await apis();
      const found = await lookup(`read network ${idOrName}`, () =>
        networking.readNamespacedNetworkPolicy({ name: kubeName(idOrName), namespace }),
      );
      return found && info(found);
    },
    async remove(idOrName) {
      const { networking, namespace } = await apis();
      await lookup(`delete network ${idOrName}`, () =>
        networking.deleteNamespacedNetworkPolicy({ name: kubeName(idOrName), namespace }),
      );
    },
    async list(labels) {
      const { networking, namespace } = await apis();
      const { selector, matches } = selectorFor(labels);
      const found = await call("list networks", () =>
        networking.listNamespacedNetworkPolicy({ namespace, labelSelector: selector }),
      );
      // A pod's allowlist policy (egress-policy.ts) is no app's network.
      return found.items
        .map(info)
        .filter((n) => n.name !== DEFAULT_DENY_POLICY && !n.labels[EGRESS_POLICY_LABEL] && matches(n.labels));
    },
  };
}
