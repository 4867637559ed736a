/**
 * The Pulumi program behind every sandfleet.yaml stack: read the file named by
 * stack config `sandfleet:file` (relative to Pulumi.yaml; default sandfleet.yaml),
 * with the app named by `sandfleet:app` if set,
 * validate it, and declare its resources. Any problem in the file fails the
 * program before a single resource is registered.
 */
import { resolve } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { deploySpec, specOutputs } from "./spec/deploy.ts";
import { formatIssue, SpecError } from "./spec/issues.ts";
import { loadSpecFile } from "./spec/load.ts";
import { projectDirectory } from "./spec/project-dir.ts";
import { nameProblem } from "./runtime/names.ts";

const config = new pulumi.Config("sandfleet");
const file = config.get("file") ?? "sandfleet.yaml";
// One file, several stacks: `sandfleet:app` names the app per stack (staging, prod, a test).
const appOverride = config.get("app");
const projectDir = projectDirectory(pulumi.getProject(), pulumi.runtime.getRootDirectory());

function load() {
  try {
    return loadSpecFile(resolve(projectDir, file), file);
  } catch (error) {
    if (error instanceof SpecError) {
      for (const issue of error.issues) void pulumi.log.error(formatIssue(issue));
      throw new pulumi.RunError(`${file} is not valid: ${error.issues.length} problem(s), listed above`);
    }
    throw error;
  }
}

const spec = load();
const badApp = appOverride === undefined ? undefined : nameProblem(appOverride);
if (badApp) throw new pulumi.RunError(`stack config sandfleet:app ${JSON.stringify(appOverride)} ${badApp}`);
const outputs = specOutputs(deploySpec(appOverride ? { ...spec, app: appOverride } : spec));
export const app = outputs.app;
export const images = outputs.images;
export const sandboxes = outputs.sandboxes;
export const snapshots = outputs.snapshots;
export const pools = outputs.pools;
