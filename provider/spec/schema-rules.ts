import { BOUNDS, LIMITS, RULES } from "../rules.ts";

type Json = Record<string, unknown>;

/**
 * Where each limit of rules.ts stands in the schema: a JSON pointer, the
 * keyword, and the limit. Together with the string rules' `$defs`, this is
 * what `withRules` writes into the schema, so rules.ts stays their one source.
 */
const LIMIT_PLACES: [pointer: string, keyword: string, limit: number][] = [
  ...["images", "volumes", "secrets", "sandboxes", "snapshots", "pools"].map((section): [string, string, number] => [
    `/properties/${section}`,
    "maxProperties",
    LIMITS.sectionEntries,
  ]),
  ["/$defs/stringMap", "maxProperties", LIMITS.mapEntries],
  ["/$defs/secret/properties/values", "maxProperties", LIMITS.mapEntries],
  ["/$defs/sandbox/properties/tags", "maxProperties", LIMITS.mapEntries],
  ["/$defs/sandbox/properties/secrets", "maxItems", LIMITS.mapEntries],
  ["/$defs/argv", "maxItems", LIMITS.argvItems],
  ["/$defs/image/properties/steps", "maxItems", LIMITS.steps],
  ["/$defs/sandbox/properties/volumes", "maxProperties", LIMITS.mounts],
  ["/$defs/sandbox/properties/ports", "maxItems", LIMITS.ports],
  ["/$defs/pool/properties/replicas", "maximum", BOUNDS.replicas.max],
  ["/properties/webhooks", "maxItems", LIMITS.webhooks],
  ["/$defs/sandbox/properties/pids", "minimum", BOUNDS.pids.min],
  ["/$defs/sandbox/properties/pids", "maximum", BOUNDS.pids.max],
  ["/$defs/sandbox/properties/cpu", "minimum", BOUNDS.cpu.min],
  ["/$defs/sandbox/properties/cpu", "maximum", BOUNDS.cpu.max],
  ["/$defs/port", "minimum", BOUNDS.port.min],
  ["/$defs/port", "maximum", BOUNDS.port.max],
];

function at(schema: Json, pointer: string): Json {
  let node: unknown = schema;
  for (const segment of pointer.slice(1).split("/")) node = (node as Json)[segment];
  if (typeof node !== "object" || node === null) throw new Error(`schema has nothing at ${pointer}`);
  return node as Json;
}

/** The schema with the string rules and limits of rules.ts written in. */
export function withRules(schema: Json): Json {
  const copy = structuredClone(schema);
  const defs = at(copy, "/$defs");
  for (const [name, rule] of Object.entries(RULES)) {
    defs[name] = { description: rule.description, type: "string", pattern: rule.pattern, maxLength: rule.maxLength };
  }
  for (const [pointer, keyword, limit] of LIMIT_PLACES) at(copy, pointer)[keyword] = limit;
  return copy;
}
