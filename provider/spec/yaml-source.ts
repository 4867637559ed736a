/**
 * A YAML file read for checking: parsed with positions, refused whole when it
 * is too big, too deep, not YAML, or an alias bomb, before anything recurses
 * into it. sandfleet.yaml and policy files are both read this way.
 */
import { readFileSync } from "node:fs";
import { isAlias, isCollection, isMap, isPair, isScalar, LineCounter, parseDocument, type Document } from "yaml";
import { LIMITS } from "../rules.ts";
import { compareIssues, type SpecIssue } from "./issues.ts";
import { dottedPath, positionOf, type PathSegment } from "./positions.ts";
import type { ValidateFunction } from "./schema.ts";
import { schemaProblems } from "./schema-errors.ts";

export interface YamlSource {
  file: string;
  data: unknown;
  /** Where a property is in the file: its value, or its key with `atKey`. */
  at(path: readonly PathSegment[], atKey?: boolean): { line: number; column: number };
}

/** A file's text, or the issue that says why it cannot be read. */
export function readFileText(path: string, displayName: string = path): { text: string } | { issue: SpecIssue } {
  try {
    return { text: readFileSync(path, "utf8") };
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : String(error);
    return { issue: { file: displayName, line: 1, column: 1, path: "(file)", reason } };
  }
}

export type ReadResult = { source: YamlSource; issues: [] } | { source: undefined; issues: SpecIssue[] };

export function readYaml(text: string, file: string): ReadResult {
  const bytes = Buffer.byteLength(text);
  if (bytes > LIMITS.fileBytes) {
    const reason = `is ${String(bytes)} bytes; a sandfleet.yaml may have at most ${String(LIMITS.fileBytes)}`;
    return { source: undefined, issues: [{ file, line: 1, column: 1, path: "(file)", reason }] };
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
  if (syntax.length > 0) return { source: undefined, issues: syntax.sort(compareIssues) };

  const shape = shapeProblem(doc);
  if (shape) {
    const { line, col } = lines.linePos(shape.offset);
    return { source: undefined, issues: [{ file, line, column: col, path: "syntax", reason: shape.reason }] };
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {};
  } catch {
    // The only failure left is aliases that expand without bound (a "billion laughs").
    const { line, col } = lines.linePos(firstAliasOffset(doc));
    const reason = `aliases expand to more than ${String(MAX_ALIAS_COUNT)} nodes; write the entries out`;
    return { source: undefined, issues: [{ file, line, column: col, path: "syntax", reason }] };
  }
  return { source: { file, data, at: (path, atKey = false) => positionOf(doc, lines, path, atKey) }, issues: [] };
}

/** What a schema finds wrong with the data, each at its place in the file. */
export function schemaIssues(validate: ValidateFunction, source: YamlSource): SpecIssue[] {
  if (validate(source.data)) return [];
  const issues = schemaProblems(validate.errors ?? [], source.data).map((problem) => ({
    file: source.file,
    ...source.at(problem.path, problem.atKey),
    path: dottedPath(problem.path) || "(file)",
    reason: problem.reason,
  }));
  return dedupe(issues).sort(compareIssues);
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

function firstLine(message: string): string {
  return (message.split("\n")[0] ?? message).replace(/ at line \d+, column \d+:?$/, "").trim();
}

export function dedupe(issues: SpecIssue[]): SpecIssue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const key = `${issue.line}:${issue.column}:${issue.path}:${issue.reason}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
