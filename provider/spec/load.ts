import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { isAlias, isCollection, isPair, LineCounter, parseDocument, type Document } from "yaml";
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
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
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
  const data: unknown = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {};
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
 * What would make reading the document itself fail: nesting deeper than
 * any sandfleet.yaml needs (before anything recurses into it), or aliases
 * that expand without bound. Found without recursion, with a position.
 */
function shapeProblem(doc: Document): { offset: number; reason: string } | undefined {
  const stack: { node: unknown; depth: number }[] = [{ node: doc.contents, depth: 0 }];
  let aliases = 0;
  while (stack.length > 0) {
    const { node, depth } = stack.pop() ?? { node: undefined, depth: 0 };
    if (isAlias(node)) {
      aliases++;
      if (aliases > MAX_ALIAS_COUNT / 10) {
        return { offset: node.range?.[0] ?? 0, reason: `more than ${String(MAX_ALIAS_COUNT / 10)} aliases (*name)` };
      }
      continue;
    }
    if (!isCollection(node)) continue;
    if (depth >= LIMITS.depth) {
      return { offset: node.range?.[0] ?? 0, reason: `nested more than ${String(LIMITS.depth)} levels deep` };
    }
    for (const item of node.items) {
      if (isPair(item)) {
        stack.push({ node: item.key, depth: depth + 1 }, { node: item.value, depth: depth + 1 });
      } else stack.push({ node: item, depth: depth + 1 });
    }
  }
  return undefined;
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
