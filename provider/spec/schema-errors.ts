import type { ErrorObject } from "./schema.ts";
import { quoted } from "../reference-rules.ts";
import { RULES } from "../rules.ts";
import { DURATION_PATTERN, SIZE_PATTERN } from "./units.ts";
import type { PathSegment } from "./positions.ts";

/** A schema violation, restated for a person: where it is and what to do. */
export interface SchemaProblem {
  path: PathSegment[];
  /** Point at the property's key rather than its value. */
  atKey: boolean;
  reason: string;
}

// Patterns of the schema, said in words: the rules' own words, and those of the few patterns only the schema has.
const PATTERN_WORDS: Record<string, string> = {
  ...Object.fromEntries(Object.values(RULES).map((rule) => [rule.pattern, rule.words])),
  "^[1-9][0-9]*(Mi|Gi)$": "must be a size like 512Mi or 2Gi",
  [SIZE_PATTERN]: "must be a size like 512Mi or 2Gi",
  [DURATION_PATTERN]: "must be a duration like 500ms, 30s, 5m or 24h",
  "^(unix|tcp|ssh|https?)://":
    "must be a Docker host URL like unix:///var/run/docker.sock, tcp://host:2376 or ssh://user@host",
  "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$": "must be a Kubernetes name: lowercase letters, digits and -, like sandboxes",
  "^[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[a-z0-9._-]+)*$":
    "must be a registry as host[:port][/path], like registry.internal:5000 or ghcr.io/acme, without a scheme",
  "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$": "must be a Kubernetes name: lowercase letters, digits, - and .",
  "^[0-9]+(Ki|Mi|Gi|Ti)$": "must be a size like 10Gi or 512Mi",
};

function pointerToPath(pointer: string): PathSegment[] {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (value instanceof Uint8Array) return "binary data";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  return typeof value === "string" ? quoted(value) : JSON.stringify(value);
}

// A `oneOf` of the schema, said in words; told apart by the alternatives it offers.
const ONE_OF_WORDS: [alternatives: string, words: string][] = [
  [
    '{"required":["ref"]},{"required":["base"]},{"required":["dockerfile"]}',
    "needs exactly one of ref, base or dockerfile",
  ],
  ['{"description":"Name of a volume of this file."', "must be a volume name, or { volume, readOnly }"],
  ['"#/$defs/text","minLength":1},{"$ref":"#/$defs/argv"}', "must be a command line or a non-empty list of strings"],
];

function oneOfWords(alternatives: unknown): string {
  const text = JSON.stringify(alternatives);
  return ONE_OF_WORDS.find(([shape]) => text.includes(shape))?.[1] ?? "does not match any allowed form";
}

/**
 * A failed `oneOf` also reports why each alternative failed, which reads as
 * noise; those are dropped for the one sentence that says what is expected.
 * Problems deeper inside the value are kept.
 */
function withoutOneOfBranches(errors: readonly ErrorObject[]): ErrorObject[] {
  const oneOfs = errors.filter((e) => e.keyword === "oneOf");
  const kept = errors.filter(
    (e) =>
      e.keyword === "oneOf" ||
      !oneOfs.some((o) => e.instancePath === o.instancePath || e.schemaPath.startsWith(`${o.schemaPath}/`)),
  );
  return kept.flatMap((e) => {
    if (e.keyword !== "oneOf") return [e];
    // A problem inside the value says more than "no form matches": keep that alone.
    if (kept.some((k) => k.instancePath.startsWith(`${e.instancePath}/`))) return [];
    // A value that has the shape of one form, and breaks it inside, is told what breaks it (as the API tells it).
    const inside = errors.filter(
      (b) => b.schemaPath.startsWith(`${e.schemaPath}/`) && b.instancePath.startsWith(`${e.instancePath}/`),
    );
    if (inside.length > 0) return inside;
    // A value of the right type that breaks a rule (a NUL in a command line) is told the rule.
    const broken = errors.find(
      (b) => b.instancePath === e.instancePath && (b.keyword === "pattern" || b.keyword === "maxLength"),
    );
    return [broken ?? e];
  });
}

/** One verdict per value: a length bound says enough, and of several patterns the first. */
function oneRulePerValue(errors: readonly ErrorObject[]): ErrorObject[] {
  const seen = new Set<string>();
  const ruleKeywords = new Set(["pattern", "maxLength"]);
  const ordered = [...errors].sort((a, b) => Number(b.keyword === "maxLength") - Number(a.keyword === "maxLength"));
  const dropped = new Set<ErrorObject>();
  for (const e of ordered) {
    if (!ruleKeywords.has(e.keyword)) continue;
    const key = `${e.instancePath}|${(e as ErrorObject & { propertyName?: string }).propertyName ?? ""}`;
    if (seen.has(key)) dropped.add(e);
    seen.add(key);
  }
  return errors.filter((e) => !dropped.has(e));
}

export function schemaProblems(errors: readonly ErrorObject[], data: unknown): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  for (const error of oneRulePerValue(withoutOneOfBranches(errors))) {
    const path = pointerToPath(error.instancePath);
    const value = path.reduce<unknown>(
      (node, segment) => (node as Record<PathSegment, unknown> | undefined)?.[segment],
      data,
    );
    const params = error.params as Record<string, unknown>;
    const propertyName = (error as ErrorObject & { propertyName?: string }).propertyName;
    switch (error.keyword) {
      case "additionalProperties": {
        const allowed = Object.keys((error.parentSchema as { properties?: object } | undefined)?.properties ?? {});
        problems.push({
          path: [...path, String(params.additionalProperty)],
          atKey: true,
          reason:
            `unknown property "${String(params.additionalProperty)}"` +
            (allowed.length ? ` (expected one of: ${allowed.join(", ")})` : ""),
        });
        break;
      }
      case "required":
        problems.push({ path: [...path, String(params.missingProperty)], atKey: true, reason: "is required" });
        break;
      case "propertyNames":
        break; // restated by the inner keyword, which carries propertyName
      case "type":
        problems.push({
          path,
          atKey: false,
          reason: `must be ${article(String(params.type))}, not ${describe(value)}`,
        });
        break;
      case "enum":
        problems.push({
          path,
          atKey: false,
          reason: `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}, not ${describe(value)}`,
        });
        break;
      case "pattern": {
        const words = PATTERN_WORDS[String(params.pattern)] ?? `must match ${String(params.pattern)}`;
        if (propertyName !== undefined) {
          problems.push({ path: [...path, propertyName], atKey: true, reason: `name "${propertyName}" ${words}` });
        } else {
          problems.push({ path, atKey: false, reason: `${describe(value)} ${words}` });
        }
        break;
      }
      case "minimum":
      case "maximum":
        problems.push({
          path,
          atKey: false,
          reason: `must be ${error.keyword === "minimum" ? "at least" : "at most"} ${String(params.limit)}, not ${describe(value)}`,
        });
        break;
      case "oneOf":
        // About a whole map: shown at its key, where the reader finds it.
        problems.push({ path, atKey: isMap(value), reason: oneOfWords(error.schema) });
        break;
      case "uniqueItems":
        problems.push({ path, atKey: false, reason: "lists an entry twice" });
        break;
      case "minProperties":
      case "maxProperties": {
        const limit = Number(params.limit);
        const reason =
          error.keyword === "maxProperties" && limit > 1
            ? `must have at most ${String(limit)} entries (has ${String(Object.keys(value as object).length)})`
            : minMaxProperties(error.parentSchema);
        problems.push({ path, atKey: isMap(value), reason });
        break;
      }
      case "maxItems":
        problems.push({
          path,
          atKey: false,
          reason: `must have at most ${String(params.limit)} items (has ${String((value as unknown[]).length)})`,
        });
        break;
      case "maxLength":
        if (propertyName !== undefined) {
          problems.push({
            path: [...path, propertyName],
            atKey: true,
            reason: `name is longer than ${String(params.limit)} characters`,
          });
        } else {
          problems.push({
            path,
            atKey: false,
            reason: `must be at most ${String(params.limit)} characters (has ${String((value as string).length)})`,
          });
        }
        break;
      case "minItems":
        problems.push({ path, atKey: false, reason: "must not be empty" });
        break;
      case "minLength":
        problems.push({ path, atKey: false, reason: "must not be empty" });
        break;
      default:
        problems.push({ path, atKey: false, reason: error.message ?? error.keyword });
    }
  }
  return problems;
}

function isMap(value: unknown): boolean {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function minMaxProperties(schema: unknown): string {
  const properties = Object.keys((schema as { properties?: object } | undefined)?.properties ?? {});
  return properties.length ? `needs exactly one of ${properties.join(", ")}` : "must not be empty";
}

function article(type: string): string {
  const words: Record<string, string> = {
    object: "a map",
    array: "a list",
    string: "a string",
    number: "a number",
    integer: "a whole number",
    boolean: "true or false",
  };
  return type
    .split(",")
    .map((t) => words[t] ?? t)
    .join(" or ");
}
