import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  advisoryIssues,
  annotations,
  capacityIssues,
  checkPolicy,
  hasErrors,
  kubeconfigIssues,
  loadPolicyFile,
  loadSpecPath,
  POLICY_FILE,
  specEngine,
  type AnnotationFormat,
  type Policy,
  type SpecIssue,
} from "../../spec/index.ts";
import { EXIT, stringOption, UsageError, type Verb } from "../verb.ts";

const FORMATS: readonly AnnotationFormat[] = ["text", "json", "github", "gitlab"];

export const validate: Verb = {
  usage: "sandfleet validate [FILE...] [--policy FILE] [--capacity] [--format text|json|github|gitlab] [--json]",
  examples: [
    "sandfleet validate",
    "sandfleet validate stacks/*/sandfleet.yaml --format github",
    "sandfleet validate --policy platform/policy.yaml --capacity",
  ],
  options: { format: { type: "string" }, policy: { type: "string" }, capacity: { type: "boolean" } },
  async run({ positionals, values, json }) {
    const format = (json ? "json" : (stringOption(values, "format") ?? "text")) as AnnotationFormat;
    if (!FORMATS.includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(", ")}`);
    const files = positionals.length > 0 ? positionals : ["sandfleet.yaml"];
    const named = stringOption(values, "policy");
    const issues: SpecIssue[] = [];
    const policies = new Map<string, Policy | undefined>();
    const policyFor = (specFile: string): Policy | undefined => {
      const path = named ?? join(dirname(specFile), POLICY_FILE);
      if (!named && !existsSync(path)) return undefined;
      if (!policies.has(path)) {
        const loaded = loadPolicyFile(path);
        issues.push(...loaded.issues);
        policies.set(path, loaded.policy);
      }
      return policies.get(path);
    };
    for (const file of files) {
      const loaded = loadSpecPath(file);
      issues.push(...loaded.issues);
      if (!loaded.spec) continue;
      issues.push(...advisoryIssues(loaded.spec, loaded.source));
      const policy = policyFor(file);
      if (policy) issues.push(...checkPolicy(policy, loaded.spec, loaded.source));
      issues.push(...kubeconfigIssues(loaded.spec, loaded.source, policy?.allowKubeconfigExec === true));
      if (values.capacity === true) {
        const { Sandfleet } = await import("../../index.ts");
        // The engine the file names (a cluster too), not the one this machine happens to have.
        const sandfleet = new Sandfleet(specEngine(loaded.spec));
        const engine = await sandfleet.capacity();
        issues.push(...capacityIssues(loaded.spec, loaded.source, { name: sandfleet.engine, ...engine }));
      }
    }
    const valid = !hasErrors(issues);
    const report = annotations(issues, format, files);
    if (format === "json" || format === "gitlab") console.log(report);
    else if (issues.length === 0) console.log(`${files.join(", ")}: valid`);
    else {
      (format === "github" ? console.log : console.error)(report);
      if (valid) console.log(`${files.join(", ")}: valid, with warnings`);
    }
    return valid ? EXIT.ok : EXIT.failed;
  },
};
