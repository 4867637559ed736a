/** `sandfleet/spec`: read and check sandfleet.yaml files, without an engine or Pulumi. */
export { loadSpec, loadSpecFile, loadSpecPath, type LoadResult } from "./load.ts";
export { formatIssue, SpecError, type SpecIssue } from "./issues.ts";
export { SCHEMA_PATH } from "./schema.ts";
export { parseDuration, parseSizeMiB } from "./units.ts";
export type * from "./types.ts";
export {
  checkPolicy,
  loadPolicy,
  loadPolicyFile,
  POLICY_FILE,
  type Policy,
  type PolicyRule,
  type PolicyLimits,
} from "./policy.ts";
export { POLICY_SCHEMA_PATH } from "./schema.ts";
export { hasErrors } from "./issues.ts";
export { capacityIssues } from "./capacity.ts";
export { advisoryIssues } from "./advisories.ts";
export { kubeconfigIssues } from "./kubeconfig-check.ts";
export { specEngine } from "./to-params.ts";
export { fleetDemand, fleetUnits, type FleetDemand } from "./fleet.ts";
export { annotations, type AnnotationFormat } from "./annotations.ts";
export type { YamlSource } from "./yaml-source.ts";
