/** Renders the JSON Schema of sandfleet.yaml as Markdown, so the README's reference cannot drift from it. */

interface Schema {
  description?: string;
  type?: string | string[];
  $ref?: string;
  enum?: unknown[];
  default?: unknown;
  examples?: unknown[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  oneOf?: Schema[];
  required?: string[];
  $defs?: Record<string, Schema>;
}

const SECTIONS: [title: string, def: string][] = [
  ["images.&lt;name&gt;", "image"],
  ["images.&lt;name&gt;.steps[]", "imageStep"],
  ["volumes.&lt;name&gt;", "volume"],
  ["secrets.&lt;name&gt;", "secret"],
  ["secrets.&lt;name&gt;.values.&lt;VARIABLE&gt;", "secretSource"],
  ["sandboxes.&lt;name&gt; (and pools.&lt;name&gt;.template)", "sandbox"],
  ["readiness", "readiness"],
  ["snapshots.&lt;name&gt;", "snapshot"],
  ["pools.&lt;name&gt;", "pool"],
];

function refName(ref: string): string {
  return ref.replace("#/$defs/", "");
}

function typeOf(schema: Schema, root: Schema): string {
  if (schema.$ref) {
    const name = refName(schema.$ref);
    const target = root.$defs?.[name];
    const words: Record<string, string> = {
      name: "name",
      duration: "duration",
      size: "size",
      absolutePath: "absolute path",
      argv: "list of strings",
      stringMap: "map of strings",
      port: "port (1-65535)",
      readiness: "readiness",
      mount: "volume name or {volume, readOnly}",
      sandbox: "sandbox (below)",
      imageStep: "step",
      secretSource: "source",
      image: "image (below)",
      volume: "volume (below)",
      secret: "secret (below)",
      snapshot: "snapshot (below)",
      pool: "pool (below)",
    };
    return words[name] ?? (target ? typeOf(target, root) : name);
  }
  if (schema.enum) return schema.enum.map((v) => `\`${String(v)}\``).join(" \\| ");
  if (schema.oneOf) return schema.oneOf.map((s) => typeOf(s, root)).join(" or ");
  if (schema.type === "array") return `list of ${schema.items ? typeOf(schema.items, root) : "values"}`;
  if (schema.type === "object") {
    const values = schema.additionalProperties;
    return typeof values === "object" ? `map of ${typeOf(values, root)}` : "map";
  }
  const type = Array.isArray(schema.type) ? schema.type.join(" or ") : (schema.type ?? "any");
  const range =
    schema.minimum !== undefined || schema.maximum !== undefined
      ? ` (${String(schema.minimum ?? "")}-${String(schema.maximum ?? "")})`
      : "";
  return type + range;
}

function describe(schema: Schema, root: Schema): string {
  const own = schema.description ?? (schema.$ref ? (root.$defs?.[refName(schema.$ref)]?.description ?? "") : "");
  const example = schema.examples?.[0] ?? (schema.$ref ? root.$defs?.[refName(schema.$ref)]?.examples?.[0] : undefined);
  return (own + (example !== undefined ? ` Example: \`${JSON.stringify(example)}\`.` : ""))
    .replace(/\|/g, "\\|")
    .trim();
}

function table(schema: Schema, root: Schema): string[] {
  const rows = Object.entries(schema.properties ?? {}).map(([field, property]) => {
    const required = schema.required?.includes(field) ? "required" : "";
    const fallback = property.default !== undefined ? `\`${JSON.stringify(property.default)}\`` : required;
    return `| \`${field}\` | ${typeOf(property, root)} | ${fallback} | ${describe(property, root)} |`;
  });
  return ["| field | type | default | meaning |", "| --- | --- | --- | --- |", ...rows];
}

export function schemaMarkdown(root: Schema): string {
  const lines = [root.description ?? "", "", "#### top level", "", ...table(root, root)];
  for (const [title, def] of SECTIONS) {
    const schema = root.$defs?.[def];
    if (!schema) continue;
    lines.push("", `#### ${title}`, "");
    if (schema.description) lines.push(schema.description, "");
    lines.push(...table(schema, root));
  }
  const words = ["name", "duration", "size"].map((d) => `${d}: ${root.$defs?.[d]?.description ?? ""}`);
  lines.push("", ...words.map((w) => `- ${w}`));
  return lines.join("\n");
}

export const DOCS_BEGIN =
  "<!-- BEGIN sandfleet.yaml reference: generated from schema/sandfleet.schema.json by `npm run docs` -->";
export const DOCS_END = "<!-- END sandfleet.yaml reference -->";

/** The README with its reference section replaced by the one rendered from the schema. */
export function withReference(readme: string, root: Schema): string {
  const start = readme.indexOf(DOCS_BEGIN);
  const end = readme.indexOf(DOCS_END);
  if (start < 0 || end < start) throw new Error("README.md has no generated reference section");
  // Kept out of the formatter's hands, so that the file stays exactly what is rendered here.
  const body = `<!-- prettier-ignore-start -->\n\n${schemaMarkdown(root)}\n\n<!-- prettier-ignore-end -->`;
  return `${readme.slice(0, start + DOCS_BEGIN.length)}\n${body}\n${readme.slice(end)}`;
}
