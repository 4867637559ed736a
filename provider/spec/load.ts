import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { isAlias, isCollection, isMap, isPair, isScalar, LineCounter, parseDocument, type Document } from "yaml";
import { LIMITS } from "../rules.ts";
import { compareIssues, SpecError, type SpecIssue } from "./issues.ts";
import { positionOf } from "./positions.ts";
import { dottedPath } from "./positions.ts";
import { schemaValidator } from "./schema.ts";
import { schemaProblems } from "./schema-errors.ts";
import { semanticProblems } from "./semantics.ts";
import type { SandfleetSpec } from "./types.ts";

export type LoadResult = { spec: SandfleetSpec; issues: [] } | { spec: undefined; issues: SpecIssue[] };

/**
 * Parses and validates the text of a sandfleet.yaml. Every problem is
 * reported at once, each at the line and column a user has to edit.
 */
export function loadSpec(text: string, file: string, dir: string = dirname(resolve(file))): LoadResult {
  // Paths in the file are relative to `dir`, the file's own directory.
  const bytes = Buffer.byteLength(text);
  if (bytes > LIMITS.fileBytes) {
    const reason = `is ${String(bytes)} bytes; a sandfleet.yaml may have at most ${String(LIMITS.fileBytes)}`;
    return { spec: undefined, issues: [{ file, line: 1, column: 1, path: "(file)", reason }] };
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  // After an unexpected token the parser is lost, and what it says next is noise.
  const firstLost = doc.errors.findIndex((e) => e.code === "UNEXPECTED_TOKEN");
  const errors = firstLost < 0 ? doc.errors : doc.errors.slice(0, firstLost + 1);
  const syntax: SpecIssue[] = errors.map((error) => {
    const { line, col } = lines.linePos(error.pos[0]);
    return { file, line, column: col, path: "syntax", reason: firstLine(error.message) };
  });
  if (syntax.length > 0) return { spec: undefined, issues: syntax.sort(compareIssues) };

  const shape = shapeProblem(doc);
  if (shape) {
    const { line, col } = lines.linePos(shape.offset);
    return { spec: undefined, issues: [{ file, line, column: col, path: "syntax", reason: shape.reason }] };
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {};
  } catch {
    // The only failure left is aliases that expand without bound (a "billion laughs").
    const { line, col } = lines.linePos(firstAliasOffset(doc));
    const reason = `aliases expand to more than ${String(MAX_ALIAS_COUNT)} nodes; write the entries out`;
    return { spec: undefined, issues: [{ file, line, column: col, path: "syntax", reason }] };
  }
  const oversized = oversizedSection(data);
  if (oversized) {
    const count = Object.keys((data as Record<string, object>)[oversized] ?? {}).length;
    const reason = `must have at most ${String(LIMITS.sectionEntries)} entries (has ${String(count)})`;
    return {
      spec: undefined,
      issues: [{ file, ...positionOf(doc, lines, [oversized], true), path: oversized, reason }],
    };
  }
  const validate = schemaValidator();
  if (!validate(data)) {
    const issues = schemaProblems(validate.errors ?? [], data).map((problem) => ({
      file,
      ...positionOf(doc, lines, problem.path, problem.atKey),
      path: dottedPath(problem.path) || "(file)",
      reason: problem.reason,
    }));
    return { spec: undefined, issues: dedupe(issues).sort(compareIssues) };
  }
  const spec = withDefaults(data as Partial<SandfleetSpec>, file, dir);
  const semantic = semanticProblems(spec).map((problem) => ({
    file,
    ...positionOf(doc, lines, problem.path, problem.atKey),
    path: dottedPath(problem.path),
    reason: problem.reason,
  }));
  if (semantic.length > 0) return { spec: undefined, issues: dedupe(semantic).sort(compareIssues) };
  return { spec, issues: [] };
}

/** Aliases the whole file may expand to: far beyond any real file, far below a billion laughs. */
const MAX_ALIAS_COUNT = 1000;

/**
 * Nesting deeper than any sandfleet.yaml needs, found before anything
 * recurses into the document (a parser or validator would overflow its stack).
 */
function shapeProblem(doc: Document): { offset: number; reason: string } | undefined {
  for (const { node, depth } of nodesOf(doc)) {
    if (isCollection(node) && depth >= LIMITS.depth) {
      return { offset: node.range?.[0] ?? 0, reason: `nested more than ${String(LIMITS.depth)} levels deep` };
    }
    // The parser's own check of unique keys takes quadratic time: a large map would take seconds.
    if (isMap(node)) {
      const keys = new Set<unknown>();
      for (const { key } of node.items) {
        const value = isScalar(key) ? key.value : key;
        if (keys.has(value))
          return { offset: (key as { range?: number[] }).range?.[0] ?? 0, reason: "Map keys must be unique" };
        keys.add(value);
      }
    }
  }
  return undefined;
}

function firstAliasOffset(doc: Document): number {
  for (const { node } of nodesOf(doc)) if (isAlias(node)) return node.range?.[0] ?? 0;
  return 0;
}

/** Every node with its depth, without recursion, stopping at the depth limit. */
function* nodesOf(doc: Document): Generator<{ node: unknown; depth: number }> {
  const stack: { node: unknown; depth: number }[] = [{ node: doc.contents, depth: 0 }];
  for (let next = stack.pop(); next; next = stack.pop()) {
    yield next;
    const { node, depth } = next;
    if (!isCollection(node) || depth >= LIMITS.depth) continue;
    for (const item of [...node.items].reverse()) {
      if (isPair(item)) stack.push({ node: item.value, depth: depth + 1 }, { node: item.key, depth: depth + 1 });
      else stack.push({ node: item, depth: depth + 1 });
    }
  }
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
  };
}

/** Reads and validates a file; throws SpecError with every problem. */
export function loadSpecFile(path: string, displayName: string = path): SandfleetSpec {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    throw new SpecError([
      {
        file: displayName,
        line: 1,
        column: 1,
        path: "(file)",
        reason: code === "ENOENT" ? "file not found" : String(error),
      },
    ]);
  }
  // The spec's directory is that of `path`, whatever name it is shown under.
  const result = loadSpec(text, displayName, dirname(resolve(path)));
  if (!result.spec) throw new SpecError(result.issues);
  return result.spec;
}

function firstLine(message: string): string {
  return (message.split("\n")[0] ?? message).replace(/ at line \d+, column \d+:?$/, "").trim();
}

function dedupe(issues: SpecIssue[]): SpecIssue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const key = `${issue.line}:${issue.column}:${issue.path}:${issue.reason}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
