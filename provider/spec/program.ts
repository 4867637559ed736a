import { resolve } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { nameProblem } from "../runtime/names.ts";
import { deploySpec, specOutputs } from "./deploy.ts";
import { formatIssue, SpecError } from "./issues.ts";
import { loadSpecFile } from "./load.ts";
import { projectDirectory } from "./project-dir.ts";

/**
 * The Pulumi program behind every sandfleet.yaml stack: reads the file named
 * by stack config `sandfleet:file` (relative to Pulumi.yaml; default
 * sandfleet.yaml), with the app named by `sandfleet:app` if set, validates it,
 * and declares its resources. Any problem in the file fails the program
 * before a single resource is registered. Returns the stack outputs.
 *
 * A project's whole entry file: `export { sandfleetProgram as default } from "sandfleet/pulumi";`
 */
export function sandfleetProgram(): Record<string, pulumi.Output<unknown>> {
  const config = new pulumi.Config("sandfleet");
  const file = config.get("file") ?? "sandfleet.yaml";
  // One file, several stacks: `sandfleet:app` names the app per stack (staging, prod, a test).
  const appOverride = config.get("app");
  const projectDir = projectDirectory(pulumi.getProject(), pulumi.runtime.getRootDirectory());

  let spec;
  try {
    spec = loadSpecFile(resolve(projectDir, file), file);
  } catch (error) {
    if (error instanceof SpecError) {
      for (const issue of error.issues) void pulumi.log.error(formatIssue(issue));
      throw new pulumi.RunError(`${file} is not valid: ${String(error.issues.length)} problem(s), listed above`);
    }
    throw error;
  }
  const badApp = appOverride === undefined ? undefined : nameProblem(appOverride);
  if (badApp) throw new pulumi.RunError(`stack config sandfleet:app ${JSON.stringify(appOverride)} ${badApp}`);
  return specOutputs(deploySpec(appOverride ? { ...spec, app: appOverride } : spec));
}
