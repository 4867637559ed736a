import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { kubeconfigCredentialProblem } from "../engines/kubeconfig-rules.ts";
import type { SpecIssue } from "./issues.ts";
import type { SandfleetSpec } from "./types.ts";
import type { YamlSource } from "./yaml-source.ts";

/**
 * The kubeconfig a spec names, held to the engine's own check
 * (engines/kubeconfig-rules.ts) before anything loads it: `validate`,
 * `preview` and `up` refuse a plugin at its line in sandfleet.yaml unless the
 * policy allows them (`allowKubeconfigExec: true`). The path is read as the
 * engine will read it (from the working directory) and from the spec's folder.
 */
export function kubeconfigIssues(spec: SandfleetSpec, source: YamlSource, allowExec: boolean): SpecIssue[] {
  const named = spec.kubernetes?.kubeconfig;
  if (named === undefined || allowExec) return [];
  const candidates = [...new Set([resolve(spec.dir, named), resolve(named)])].filter((path) => existsSync(path));
  const reason = candidates.map((path) => kubeconfigCredentialProblem(path)).find((r) => r !== undefined);
  if (!reason) return [];
  const path = ["kubernetes", "kubeconfig"];
  return [{ file: spec.file, ...source.at(path), path: path.join("."), reason: `${named} ${reason}` }];
}

/** The spec's cluster target as the engine is to be given it: allowed to run plugins when the policy says so. */
export function withKubeconfigTrust(spec: SandfleetSpec, allowExec: boolean): SandfleetSpec {
  if (!allowExec || spec.kubernetes?.kubeconfig === undefined) return spec;
  return { ...spec, kubernetes: { ...spec.kubernetes, allowExecCredentials: true } };
}
