/** `sandfleet/spec`: read and check sandfleet.yaml files, without an engine or Pulumi. */
export { loadSpec, loadSpecFile, type LoadResult } from "./load.ts";
export { formatIssue, SpecError, type SpecIssue } from "./issues.ts";
export { SCHEMA_PATH } from "./schema.ts";
export { parseDuration, parseSizeMiB } from "./units.ts";
export type * from "./types.ts";
