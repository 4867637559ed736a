/**
 * What sandfleet offers on Docker and not on Kubernetes, and why: the spec's
 * checks, the runtime and the engine all refuse with these words.
 */
export const KUBERNETES_LIMITS = {
  egress:
    "egress allowlists need the Docker engine: on Kubernetes, use the cluster's NetworkPolicies (sandfleet gives every sandbox a default-deny policy)",
  pause: "pause needs the Docker engine: the Kubernetes API has no way to freeze a pod's processes",
  snapshot:
    "snapshots need the Docker engine: a pod's filesystem lives in its node's container runtime, and the Kubernetes API has no call to record it as an image",
  engines: "choose one engine: dockerHost or kubernetes",
} as const;
