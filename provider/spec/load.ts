import { dirname, resolve } from "node:path";
import { LIMITS } from "../rules.ts";
import { compareIssues, SpecError, type SpecIssue } from "./issues.ts";
import { referenceFieldProblems } from "./reference-checks.ts";
import { dottedPath } from "./positions.ts";
import { schemaValidator } from "./schema.ts";
import { semanticProblems } from "./semantics.ts";
import { dedupe, readFileText, readYaml, schemaIssues, type YamlSource } from "./yaml-source.ts";
import type { SandfleetSpec } from "./types.ts";

export type LoadResult =
  | {
      spec: SandfleetSpec;
      issues: [];
      /** Where each property is, for checks that come after (policy). */ source: YamlSource;
    }
  | { spec: undefined; issues: SpecIssue[] };

/**
 * Parses and validates the text of a sandfleet.yaml. Every problem is
 * reported at once, each at the line and column a user has to edit.
 */
export function loadSpec(text: string | Uint8Array, file: string, dir: string = dirname(resolve(file))): LoadResult {
  // Paths in the file are relative to `dir`, the file's own directory.
  const read = readYaml(text, file);
  if (!read.source) return { spec: undefined, issues: read.issues };
  const source = read.source;
  const oversized = oversizedSection(source.data);
  if (oversized) {
    const count = Object.keys((source.data as Record<string, object>)[oversized] ?? {}).length;
    const reason = `must have at most ${String(LIMITS.sectionEntries)} entries (has ${String(count)})`;
    return { spec: undefined, issues: [{ file, ...source.at([oversized], true), path: oversized, reason }] };
  }
  const invalid = schemaIssues(schemaValidator(), source);
  if (invalid.length > 0) return { spec: undefined, issues: invalid };
  const spec = withDefaults(source.data as Partial<SandfleetSpec>, file, dir);
  const semantic = [...semanticProblems(spec), ...referenceFieldProblems(spec)].map((problem) => ({
    file,
    ...source.at(problem.path, problem.atKey),
    path: dottedPath(problem.path),
    reason: problem.reason,
  }));
  if (semantic.length > 0) return { spec: undefined, issues: dedupe(semantic).sort(compareIssues) };
  return { spec, issues: [], source };
}

/**
 * A section with more entries than any review could read: said at once, as
 * the schema's maxProperties would, before validating each of them costs
 * seconds per thousand.
 */
function oversizedSection(data: unknown): string | undefined {
  if (typeof data !== "object" || data === null) return undefined;
  return Object.entries(data as Record<string, unknown>).find(
    ([, section]) =>
      typeof section === "object" && section !== null && Object.keys(section).length > LIMITS.sectionEntries,
  )?.[0];
}

function withDefaults(data: Partial<SandfleetSpec>, file: string, dir: string): SandfleetSpec {
  return {
    ...data,
    file,
    dir,
    app: data.app ?? "",
    images: data.images ?? {},
    volumes: data.volumes ?? {},
    secrets: data.secrets ?? {},
    sandboxes: data.sandboxes ?? {},
    snapshots: data.snapshots ?? {},
    pools: data.pools ?? {},
    webhooks: data.webhooks ?? [],
  };
}

/** Reads and validates a file; throws SpecError with every problem. */
export function loadSpecFile(path: string, displayName: string = path): SandfleetSpec {
  const result = loadSpecPath(path, displayName);
  if (!result.spec) throw new SpecError(result.issues);
  return result.spec;
}

/** Reads and validates a file; a file that cannot be read is one more problem. */
export function loadSpecPath(path: string, displayName: string = path): LoadResult {
  const read = readFileText(path, displayName);
  if ("issue" in read) return { spec: undefined, issues: [read.issue] };
  // The spec's directory is that of `path`, whatever name it is shown under.
  return loadSpec(read.text, displayName, dirname(resolve(path)));
}
