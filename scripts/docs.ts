// `npm run docs`: writes the rules of provider/rules.ts into the JSON Schema, then renders the
// sandfleet.yaml reference in README.md from that schema.
import { readFileSync, writeFileSync } from "node:fs";
import { withReference } from "../provider/spec/schema-docs.ts";
import { withRules } from "../provider/spec/schema-rules.ts";

const schemaPath = new URL("../schema/sandfleet.schema.json", import.meta.url);
const schema = withRules(JSON.parse(readFileSync(schemaPath, "utf8")) as Record<string, unknown>);
writeFileSync(schemaPath, `${JSON.stringify(schema, null, 2)}\n`);

const readmePath = new URL("../README.md", import.meta.url);
writeFileSync(readmePath, withReference(readFileSync(readmePath, "utf8"), schema));
