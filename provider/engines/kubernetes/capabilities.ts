import type { Capability, EngineCapabilities } from "../port.ts";
import { KUBERNETES_LIMITS } from "./limits.ts";

const SUPPORTED: Capability = { supported: true };
const unsupported = (why: string): Capability => ({ supported: false, why });

/** What sandfleet can do on a Kubernetes cluster: the same on every cluster, since it is the API's. */
export const KUBERNETES_CAPABILITIES: EngineCapabilities = {
  pause: unsupported(KUBERNETES_LIMITS.pause),
  checkpoint: unsupported(KUBERNETES_LIMITS.pause),
  // A NetworkPolicy of the pod's own, with an ipBlock per address or CIDR (egress-policy.ts).
  egressAddresses: SUPPORTED,
  egressNames: unsupported(KUBERNETES_LIMITS.egressNames),
  // The kubelet bounds a pod's ephemeral storage itself, on any file system.
  diskBound: SUPPORTED,
  // A volume mount's subPath is Kubernetes' own.
  subPathMounts: SUPPORTED,
  snapshots: unsupported(KUBERNETES_LIMITS.snapshot),
  pidsBound: unsupported(KUBERNETES_LIMITS.pids),
  hostChannel: unsupported("a pod's network namespace is on its node, not on this host"),
  execUser: unsupported("an exec on Kubernetes runs as the container's user; it cannot choose another"),
  hostPorts: unsupported(
    "the cluster publishes no port of a pod on this host: a tunnel is a listener of this process, through the API server's port-forward",
  ),
};
