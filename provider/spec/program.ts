import { existsSync } from "node:fs";
import { resolve } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { nameProblem } from "../runtime/engine-state/names.ts";
import { deploySpec, specOutputs } from "./deploy.ts";
import { formatIssue, type SpecIssue } from "./issues.ts";
import { kubeconfigIssues, withKubeconfigTrust } from "./kubeconfig-check.ts";
import { loadSpecPath } from "./load.ts";
import { checkPolicy, loadPolicyFile, POLICY_FILE } from "./policy.ts";
import { projectDirectory } from "./project-dir.ts";

/**
 * The Pulumi program behind every sandfleet.yaml stack: reads the file named
 * by stack config `sandfleet:file` (relative to Pulumi.yaml; default
 * sandfleet.yaml), with the app named by `sandfleet:app` if set, validates it
 * and holds it to its policy (`sandfleet:policy`, else sandfleet.policy.yaml
 * beside Pulumi.yaml when there is one), then declares its resources. Any
 * problem fails the program before a single resource is registered. Returns
 * the stack outputs.
 *
 * A project's whole entry file: `export { sandfleetProgram as default } from "sandfleet/pulumi";`
 */
export function sandfleetProgram(): Record<string, pulumi.Output<unknown>> {
  const config = new pulumi.Config("sandfleet");
  const file = config.get("file") ?? "sandfleet.yaml";
  // One file, several stacks: `sandfleet:app` names the app per stack (staging, prod, a test).
  const appOverride = config.get("app");
  const projectDir = projectDirectory(pulumi.getProject(), pulumi.runtime.getRootDirectory());

  const refuse = (issues: readonly SpecIssue[], what: string): never => {
    for (const issue of issues) void pulumi.log.error(formatIssue(issue));
    throw new pulumi.RunError(`${what}: ${String(issues.length)} problem(s), listed above`);
  };
  const loaded = loadSpecPath(resolve(projectDir, file), file);
  if (!loaded.spec) return refuse(loaded.issues, `${file} is not valid`);
  const policyFile = config.get("policy") ?? (existsSync(resolve(projectDir, POLICY_FILE)) ? POLICY_FILE : undefined);
  let allowKubeconfigExec = false;
  if (policyFile) {
    const policy = loadPolicyFile(resolve(projectDir, policyFile), policyFile);
    if (!policy.policy) return refuse(policy.issues, `${policyFile} is not valid`);
    allowKubeconfigExec = policy.policy.allowKubeconfigExec === true;
    const violations = checkPolicy(policy.policy, loaded.spec, loaded.source);
    for (const warning of violations.filter((v) => v.severity === "warning"))
      void pulumi.log.warn(formatIssue(warning));
    const errors = violations.filter((v) => v.severity !== "warning");
    if (errors.length > 0) return refuse(errors, `${file} breaks the policy in ${policyFile}`);
  }
  // Before anything is declared: a resource's engine would load the kubeconfig, and run its plugins.
  const untrusted = kubeconfigIssues(loaded.spec, loaded.source, allowKubeconfigExec);
  if (untrusted.length > 0) return refuse(untrusted, `${file} names a kubeconfig that runs commands`);
  const badApp = appOverride === undefined ? undefined : nameProblem(appOverride);
  if (badApp) throw new pulumi.RunError(`stack config sandfleet:app ${JSON.stringify(appOverride)} ${badApp}`);
  const spec = withKubeconfigTrust(loaded.spec, allowKubeconfigExec);
  return specOutputs(deploySpec(appOverride ? { ...spec, app: appOverride } : spec));
}
