/**
 * What the agent needs to run inside a Kubernetes cluster, as the public API
 * offers it: its manifests, applying and removing them, and the Lease its
 * replicas elect a leader with. The Kubernetes client loads on first call.
 */
export {
  agentManifests,
  AGENT_LABELS,
  AGENT_METRICS_PORT,
  AGENT_LEASE_ROLE,
  AGENT_METRICS_SERVICE,
  AGENT_NAME,
  AGENT_SCRAPER_LABEL,
  type AgentManifestOptions,
  type KubeObject,
} from "./kubernetes/agent-manifests.ts";
export { kubernetesLeaseStore, podGone } from "./kubernetes/lease.ts";
export { applyAgentManifests, deleteAgentManifests } from "./kubernetes/agent-apply.ts";
