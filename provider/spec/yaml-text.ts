/**
 * The text of a YAML file, checked before the YAML parser sees it: what the
 * parser would read differently from a person reviewing the file (bytes
 * that are not UTF-8, line breaks an editor or a diff shows otherwise,
 * characters nobody sees, another YAML version), and nesting deep enough
 * to overflow the parser's recursion. Each problem has an offset in the text.
 */
import { codePointName, hiddenCharacter } from "../reference-rules.ts";
import { LIMITS } from "../rules.ts";

export interface TextProblem {
  offset: number;
  reason: string;
}

/** 1-based line and column of an offset, counting lines by LF as the YAML parser does. */
export function positionIn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf("\n"); i >= 0 && i < offset; i = text.indexOf("\n", i + 1)) {
    line += 1;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * The text of the file: bytes are decoded as UTF-8, strictly, and a leading
 * BOM is dropped. A byte that is not UTF-8 is refused at its line and column
 * (the column counts the characters before it on its line, plus one).
 */
export function decodeText(
  input: string | Uint8Array,
): { text: string } | { problem: { at: { line: number; column: number }; reason: string } } {
  if (typeof input === "string") return { text: input.startsWith("\uFEFF") ? input.slice(1) : input };
  const bom = input[0] === 0xef && input[1] === 0xbb && input[2] === 0xbf ? 3 : 0;
  const bytes = input.subarray(bom);
  const bad = firstInvalidUtf8(bytes);
  if (bad === undefined) return { text: new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes) };
  // (lastIndexOf from -1 would search from the end.)
  const lineStart = bad === 0 ? 0 : bytes.lastIndexOf(0x0a, bad - 1) + 1;
  const line = bytes.subarray(0, lineStart).filter((b) => b === 0x0a).length + 1;
  const column = new TextDecoder("utf-8").decode(bytes.subarray(lineStart, bad)).length + 1;
  const byte = (bytes[bad] ?? 0).toString(16).toUpperCase().padStart(2, "0");
  return {
    problem: {
      at: { line, column },
      reason: `is not UTF-8: byte 0x${byte} does not start a well-formed character; save the file as UTF-8`,
    },
  };
}

/** The offset of the first byte that does not start a well-formed UTF-8 sequence, or undefined. */
function firstInvalidUtf8(bytes: Uint8Array): number | undefined {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] ?? 0;
    if (b < 0x80) {
      i += 1;
      continue;
    }
    // Lead byte, length and the range of the second byte (no overlongs, surrogates or > U+10FFFF).
    let length: number;
    let low = 0x80;
    let high = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) length = 2;
    else if (b >= 0xe0 && b <= 0xef) {
      length = 3;
      if (b === 0xe0) low = 0xa0;
      if (b === 0xed) high = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      length = 4;
      if (b === 0xf0) low = 0x90;
      if (b === 0xf4) high = 0x8f;
    } else return i;
    for (let k = 1; k < length; k++) {
      const next = bytes[i + k];
      const [min, max] = k === 1 ? [low, high] : [0x80, 0xbf];
      if (next === undefined || next < min || next > max) return i;
    }
    i += length;
  }
  return undefined;
}

/**
 * Characters that make the file read differently in a parser and in a
 * review: a CR without LF (CR-only or mixed line breaks: a diff may show one
 * line where the parser sees two, or the reverse), other line separators,
 * control characters, and characters nobody sees (zero-width, bidi controls).
 */
export function textProblem(text: string): TextProblem | undefined {
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  const match = /\r(?!\n)|[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/u.exec(text);
  const hidden = hiddenCharacter(text);
  const first = [match?.index, hidden?.index].filter((i): i is number => i !== undefined).sort((a, b) => a - b)[0];
  if (first === undefined) return undefined;
  const char = String.fromCodePoint(text.codePointAt(first) ?? 0);
  if (char === "\r") {
    return {
      offset: first,
      reason:
        "has a carriage return without a line feed (CR-only or mixed line breaks); save it with LF or CRLF line breaks",
    };
  }
  if (hidden?.index === first) {
    return {
      offset: first,
      reason: `has an invisible or line-separating character (${hidden.codePoint}), which a review would not see; remove it or write it as an escape in a quoted string`,
    };
  }
  return {
    offset: first,
    reason: `has the control character ${codePointName(char)}; write it as an escape in a quoted string`,
  };
}

/**
 * What only the parser's tokens (its concrete syntax tree, built without
 * recursion) show, found without recursion:
 * directives other than `%YAML 1.2` (1.1 would turn on merge keys and
 * sexagesimal numbers), and collections nested deeper than LIMITS.depth.
 */
export function structureProblem(tokens: readonly unknown[]): TextProblem | undefined {
  type Token = { type: string; offset?: number; source?: string } & Record<string, unknown>;
  const stack: { token: unknown; depth: number }[] = [];
  for (const token of tokens as Token[]) {
    if (token.type === "directive") {
      const source = token.source ?? "";
      if (!/^%YAML[ \t]+1\.2[ \t]*(#.*)?$/.test(source)) {
        return {
          offset: token.offset ?? 0,
          reason: `directive ${JSON.stringify(source)} is refused: sandfleet reads YAML 1.2 only, without %TAG`,
        };
      }
    }
    if (token.type === "document") stack.push({ token: token.value, depth: 0 });
  }
  for (let next = stack.pop(); next; next = stack.pop()) {
    const { token, depth } = next;
    const node = token as { type?: string; offset?: number; items?: Record<string, unknown>[] } | undefined;
    if (!node || !["block-map", "block-seq", "flow-collection"].includes(node.type ?? "")) continue;
    if (depth >= LIMITS.depth) {
      return { offset: node.offset ?? 0, reason: `nested more than ${String(LIMITS.depth)} levels deep` };
    }
    // Pushed last first, so that the first deep collection in the file is the one reported.
    for (const item of [...(node.items ?? [])].reverse()) {
      stack.push({ token: item.value, depth: depth + 1 }, { token: item.key, depth: depth + 1 });
    }
  }
  return undefined;
}
