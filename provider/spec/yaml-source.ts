/**
 * A YAML file read for checking: parsed with positions, refused whole when it
 * is too big, too deep, not YAML 1.2 in UTF-8, an alias bomb, or when two of
 * its keys would become one property, before anything recurses into it.
 * sandfleet.yaml and policy files are both read this way.
 */
import { readFileSync } from "node:fs";
import {
  Composer,
  isAlias,
  isCollection,
  isMap,
  isPair,
  isScalar,
  LineCounter,
  Parser,
  YAMLParseError,
  type Document,
} from "yaml";
import { hiddenCharacterProblem, quoted } from "../reference-rules.ts";
import { LIMITS } from "../rules.ts";
import { compareIssues, type SpecIssue } from "./issues.ts";
import { dottedPath, positionOf, type PathSegment } from "./positions.ts";
import type { ValidateFunction } from "./schema.ts";
import { schemaProblems } from "./schema-errors.ts";
import { decodeText, positionIn, structureProblem, textProblem } from "./yaml-text.ts";

export interface YamlSource {
  file: string;
  data: unknown;
  /** Where a property is in the file: its value, or its key with `atKey`. */
  at(path: readonly PathSegment[], atKey?: boolean): { line: number; column: number };
}

/** A file's bytes, or the issue that says why it cannot be read. */
export function readFileText(path: string, displayName: string = path): { text: Uint8Array } | { issue: SpecIssue } {
  try {
    // Bytes, not text: decoding here would turn bytes that are not UTF-8 into U+FFFD unseen.
    return { text: readFileSync(path) };
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : String(error);
    return { issue: { file: displayName, line: 1, column: 1, path: "(file)", reason } };
  }
}

export type ReadResult = { source: YamlSource; issues: [] } | { source: undefined; issues: SpecIssue[] };

/**
 * Reads YAML 1.2, and only that: bytes must be UTF-8 (a BOM is skipped), line
 * breaks LF or CRLF, no character a reader cannot see, no directive but
 * `%YAML 1.2`, no nesting deeper than LIMITS.depth (found before anything
 * recurses), and no two keys of a map that mean the same property.
 */
export function readYaml(input: string | Uint8Array, file: string): ReadResult {
  const bytes = typeof input === "string" ? Buffer.byteLength(input) : input.byteLength;
  const refuse = (at: { line: number; column: number }, reason: string): ReadResult => ({
    source: undefined,
    issues: [{ file, ...at, path: "syntax", reason }],
  });
  if (bytes > LIMITS.fileBytes) {
    const reason = `is ${String(bytes)} bytes; a sandfleet.yaml may have at most ${String(LIMITS.fileBytes)}`;
    return { source: undefined, issues: [{ file, line: 1, column: 1, path: "(file)", reason }] };
  }
  const decoded = decodeText(input);
  if ("problem" in decoded) return refuse(decoded.problem.at, decoded.problem.reason);
  const text = decoded.text;
  const unreadable = textProblem(text);
  if (unreadable) return refuse(positionIn(text, unreadable.offset), unreadable.reason);
  const lines = new LineCounter();
  // Parsed once into tokens, checked, and only then composed: composing recurses into the nesting.
  const tokens = [...new Parser(lines.addNewLine).parse(text)];
  const structure = structureProblem(tokens);
  if (structure) return refuse(positionIn(text, structure.offset), structure.reason);
  const doc = composeOne(tokens, text.length);
  // After an unexpected token the parser is lost, and what it says next is noise.
  const firstLost = doc.errors.findIndex((e) => e.code === "UNEXPECTED_TOKEN");
  const errors = firstLost < 0 ? doc.errors : doc.errors.slice(0, firstLost + 1);
  const syntax: SpecIssue[] = errors.map((error) => {
    const { line, col } = lines.linePos(error.pos[0]);
    return { file, line, column: col, path: "syntax", reason: firstLine(error.message) };
  });
  if (syntax.length > 0) return { source: undefined, issues: syntax.sort(compareIssues) };

  const shape = shapeProblem(doc, lines);
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

/** The one document of the file, as YAML 1.2 with the core schema and no merge keys. */
function composeOne(
  tokens: ReturnType<Parser["parse"]> extends Iterable<infer T> ? T[] : never,
  length: number,
): Document {
  const composer = new Composer({ uniqueKeys: false, version: "1.2", schema: "core", merge: false });
  let doc: Document | undefined;
  for (const next of composer.compose(tokens, true, length)) {
    if (!doc) doc = next;
    else {
      doc.errors.push(
        new YAMLParseError([next.range[0], next.range[1]], "MULTIPLE_DOCS", "Source contains multiple documents"),
      );
      break;
    }
  }
  // compose(…, forceDoc = true) always yields a document.
  return doc as Document;
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

/**
 * Tags a value may carry: YAML 1.2's core schema, and binary (reported where a
 * string is expected). Others (`!!set`, `!!omap`, `!!timestamp`, local tags)
 * would make data a reviewer does not see, such as a set read as an empty map.
 */
const CORE_TAGS = new Set(
  ["str", "int", "float", "bool", "null", "map", "seq", "binary"].map((name) => `tag:yaml.org,2002:${name}`),
);

/** Aliases the whole file may expand to: far beyond any real file, far below a billion laughs. */
const MAX_ALIAS_COUNT = 1000;

/**
 * What the parsed document holds that would not survive as data: two keys
 * of one map that become the same property (`1` and `"1"`, `true` and
 * `"true"`, `null` and `""`, `0x1` and `1`), keys that are not plain values,
 * and text with characters nobody sees, written as escapes. Nesting was
 * bounded before parsing; this walk is bounded again and never recurses.
 */
function shapeProblem(doc: Document, lines: LineCounter): { offset: number; reason: string } | undefined {
  for (const { node, depth } of nodesOf(doc)) {
    if (isCollection(node) && depth >= LIMITS.depth) {
      return { offset: node.range?.[0] ?? 0, reason: `nested more than ${String(LIMITS.depth)} levels deep` };
    }
    const tag = (node as { tag?: string } | null)?.tag;
    if (tag !== undefined && !CORE_TAGS.has(tag)) {
      return {
        offset: (node as { range?: number[] }).range?.[0] ?? 0,
        reason: `tag ${quoted(tag.replace(/^tag:yaml\.org,2002:/, "!!"))} is not one of YAML 1.2's core schema; write the value without it`,
      };
    }
    if (isScalar(node) && typeof node.value === "string") {
      const hidden = hiddenCharacterProblem(node.value);
      if (hidden) return { offset: node.range?.[0] ?? 0, reason: `${quoted(node.value)} ${hidden}` };
    }
    // The parser's own check of unique keys takes quadratic time (a large map would take seconds), and
    // compares keys by type: `1` and `"1"` would pass it and then become one property, one entry lost.
    if (isMap(node)) {
      const keys = new Map<string, number>();
      for (const { key } of node.items) {
        const offset = (key as { range?: number[] } | null)?.range?.[0] ?? node.range?.[0] ?? 0;
        // A key's anchor could be named again elsewhere, as a key or a value, where the diff shows only `*name`.
        if (isScalar(key) && key.anchor) {
          return {
            offset,
            reason: `a key must not carry an anchor (&${key.anchor}); write the key, and any value it names, out`,
          };
        }
        const property = propertyName(key);
        if (property === undefined) {
          return {
            offset,
            reason: "a key must be a plain value (text, a number or a boolean), not a list, map or alias",
          };
        }
        const first = keys.get(property);
        if (first !== undefined) {
          const { line, col } = lines.linePos(first);
          return {
            offset,
            reason: `key ${JSON.stringify(property)} is already in this map (at ${String(line)}:${String(col)}); keys are compared by the text they become, so 1 and "1" are one key`,
          };
        }
        keys.set(property, offset);
      }
    }
  }
  return undefined;
}

/** The property a key becomes in the data, as the YAML library names it, or undefined for a key that is not a plain value. */
function propertyName(key: unknown): string | undefined {
  if (key === null || key === undefined) return "";
  if (!isScalar(key)) return undefined;
  const value: unknown = key.value;
  if (value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
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
