// `npm run docs`: renders the sandfleet.yaml reference in README.md from the JSON Schema.
import { readFileSync, writeFileSync } from "node:fs";
import { withReference } from "../provider/spec/schema-docs.ts";

const readmePath = new URL("../README.md", import.meta.url);
const schema = JSON.parse(readFileSync(new URL("../schema/sandfleet.schema.json", import.meta.url), "utf8")) as object;
writeFileSync(readmePath, withReference(readFileSync(readmePath, "utf8"), schema));
