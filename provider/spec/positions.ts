import { isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from "yaml";

export type PathSegment = string | number;

/**
 * Finds where a property lives in the YAML source. `atKey` points at the key
 * of the last segment (for unknown or misnamed properties) rather than its
 * value. Falls back to the deepest node that exists, then to the start.
 */
export function positionOf(
  doc: Document,
  lines: LineCounter,
  path: readonly PathSegment[],
  atKey = false,
): { line: number; column: number } {
  let node: unknown = doc.contents;
  let offset = rangeStart(node) ?? 0;
  // Where the last key found starts: a missing property is reported at the
  // key of the map that lacks it, which is where a user would add it.
  let keyOffset: number | undefined;
  for (const [index, segment] of path.entries()) {
    const last = index === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(segment));
      if (!pair) {
        offset = keyOffset ?? offset;
        break;
      }
      keyOffset = rangeStart(pair.key);
      if (last && atKey) {
        offset = rangeStart(pair.key) ?? offset;
        break;
      }
      node = pair.value;
      offset = rangeStart(node) ?? rangeStart(pair.key) ?? offset;
    } else if (isSeq(node) && typeof segment === "number") {
      node = node.items[segment];
      offset = rangeStart(node) ?? offset;
    } else break;
  }
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}

function rangeStart(node: unknown): number | undefined {
  return (node as Node | null | undefined)?.range?.[0];
}

export function dottedPath(path: readonly PathSegment[]): string {
  return path
    .map((s) => (typeof s === "number" ? `[${s}]` : s))
    .join(".")
    .replace(/\.\[/g, "[");
}
