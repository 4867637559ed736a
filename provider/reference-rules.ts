/**
 * Rules for text that names something (an image reference, a user, a host):
 * each is held to the grammar of what it becomes, in ASCII, so that what a
 * reviewer reads is what the engine gets. Written once, used by the YAML
 * checks and the TypeScript API alike.
 */
import { ruleProblem } from "./rules.ts";

/**
 * Characters a reader cannot see or that reorder what they see: format
 * characters (zero-width spaces and joiners, bidi controls, the BOM, soft
 * hyphens), other default-ignorable code points (Hangul fillers, variation
 * selectors), line and paragraph separators, and halves of surrogate pairs.
 */
const HIDDEN = /[\p{Cf}\p{Default_Ignorable_Code_Point}\p{Zl}\p{Zp}\p{Cs}\u0085]/u;

/** The first hidden character of a text and where it is (0-based, in UTF-16 units), if any. */
export function hiddenCharacter(text: string): { index: number; codePoint: string } | undefined {
  const hidden = new RegExp(HIDDEN.source, "gu");
  for (let match = hidden.exec(text); match; match = hidden.exec(text)) {
    // An emoji's own presentation selector (the U+FE0F of "⚠️") hides nothing.
    if (/^[\uFE0E\uFE0F]$/u.test(match[0]) && /\p{Extended_Pictographic}/u.test(previousCharacter(text, match.index))) {
      continue;
    }
    return { index: match.index, codePoint: codePointName(match[0]) };
  }
  return undefined;
}

/** The character (code point) that ends just before `index`. */
function previousCharacter(text: string, index: number): string {
  const low = text.charCodeAt(index - 1);
  const start = low >= 0xdc00 && low <= 0xdfff && index >= 2 ? index - 2 : index - 1;
  return start < 0 ? "" : String.fromCodePoint(text.codePointAt(start) ?? 0);
}

/** `U+200B`, the way Unicode writes a code point. */
export function codePointName(char: string): string {
  return `U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;
}

/** Why a text holds a character a reader cannot see, or undefined. */
export function hiddenCharacterProblem(text: string): string | undefined {
  const hidden = hiddenCharacter(text);
  if (!hidden) return undefined;
  return `has an invisible character (${hidden.codePoint}) at character ${String(hidden.index + 1)}; write it without`;
}

/**
 * Why a text meant to be ASCII is not: the first other character, by code
 * point. Look-alikes (Cyrillic а, the Kelvin sign K, fullwidth letters) are
 * refused rather than folded, since folding would make a name that reads one
 * way mean another.
 */
export function nonAsciiProblem(text: string): string | undefined {
  const index = text.search(/[^\u0020-\u007e]/u);
  if (index < 0) return undefined;
  const char = String.fromCodePoint(text.codePointAt(index) ?? 0);
  const hidden = hiddenCharacter(char);
  const what = hidden ? "an invisible character" : `the non-ASCII character "${char}"`;
  return `has ${what} (${codePointName(char)}) at character ${String(index + 1)}; only ASCII is allowed here`;
}

// Docker's reference grammar (distribution/reference), which is ASCII only.
const DOMAIN_PART = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN = `${DOMAIN_PART}(?:\\.${DOMAIN_PART})*(?::[0-9]+)?`;
const COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const TAG = "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}";
const DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
const REFERENCE = new RegExp(`^(?:${DOMAIN}/)?${COMPONENT}(?:/${COMPONENT})*(?::${TAG})?(?:@${DIGEST})?$`);

/** At most this many characters in an image reference's name, as Docker allows. */
const REFERENCE_NAME_MAX = 255;

/** Why a text is not an image reference Docker would read as one (`repo/name[:tag][@digest]`). */
export function imageReferenceProblem(value: unknown): string | undefined {
  if (typeof value !== "string") return "must be a string";
  if (value === "") return "must be an image reference";
  const other = ruleProblem("line", value) ?? nonAsciiProblem(value);
  if (other) return other;
  const name = value.replace(/@.*$/, "").replace(/:[^/:]*$/, "");
  if (!REFERENCE.test(value) || name.length > REFERENCE_NAME_MAX) {
    return "must be an image reference like sandfleet/python, registry:5000/team/tool:1.2 or name@sha256:<hex> (lowercase name, no spaces or other characters)";
  }
  return undefined;
}

/** A user as Docker's USER takes it: a name or uid, optionally `:group` or `:gid`. */
const USER = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,63})?$/;

/** Why a text is not a user (name or uid, and optionally :group or :gid). */
export function userProblem(value: unknown): string | undefined {
  if (typeof value !== "string") return "must be a string";
  if (value === "") return "must name a user";
  const other = ruleProblem("line", value) ?? nonAsciiProblem(value);
  if (other) return other;
  if (!USER.test(value)) {
    return "must be a user as name or uid, optionally with :group or :gid (letters, digits, '_', '.', '-')";
  }
  return undefined;
}

/**
 * A value quoted for a message: JSON, with every character a terminal or a
 * review page would not show as itself (controls, DEL, spaces other than
 * the ASCII one, invisible and bidi characters) written as an escape, so a message cannot hide or reorder text.
 */
export function quoted(value: string): string {
  return JSON.stringify(value).replace(
    /[\u007f-\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\p{Cf}\p{Default_Ignorable_Code_Point}\p{Zl}\p{Zp}\p{Cs}]/gu,
    (char) => `\\u${(char.codePointAt(0) ?? 0).toString(16).padStart(4, "0")}`,
  );
}
