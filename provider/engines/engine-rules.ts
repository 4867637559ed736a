/**
 * What the spec's checks and the API judge about engines before any engine is
 * reached: the form of a cluster target, and what Kubernetes cannot offer (in
 * the words every door refuses with). Code above the engines reads these here,
 * never from an engine's own folder.
 */
export { kubernetesTargetProblems } from "./kubernetes/target.ts";
export { KUBERNETES_LIMITS } from "./kubernetes/limits.ts";
