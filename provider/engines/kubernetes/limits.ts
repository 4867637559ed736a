/**
 * What sandfleet offers on Docker and not on Kubernetes, and why: the spec's
 * checks, the runtime and the engine all refuse with these words.
 */
export const KUBERNETES_LIMITS = {
  egressNames:
    "names in an egress allowlist need the Docker engine: on Kubernetes an allowlist is a NetworkPolicy, which holds addresses, not names (and a name's addresses change); list IPv4 addresses or CIDRs",
  pids: "a sandbox's own pids bound needs the Docker engine: a pod's spec cannot bound its processes (the kubelet's podPidsLimit bounds every pod of a node alike); leave pids unset on Kubernetes",
  pause: "pause needs the Docker engine: the Kubernetes API has no way to freeze a pod's processes",
  snapshot:
    "snapshots need the Docker engine: a pod's filesystem lives in its node's container runtime, and the Kubernetes API has no call to record it as an image",
  engines: "choose one engine: dockerHost or kubernetes",
} as const;
