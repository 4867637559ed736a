import { readFileSync } from "node:fs";
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";

/** The schema file, found through the package's own exports: the same from the sources, dist/ or a bundle. */
export const SCHEMA_PATH = new URL(import.meta.resolve("sandfleet/schema.json"));

let compiled: ValidateFunction | undefined;

/** The JSON Schema of sandfleet.yaml, compiled once per process. */
export function schemaValidator(): ValidateFunction {
  if (!compiled) {
    const schema = JSON.parse(readFileSync(SCHEMA_PATH, "utf8")) as object;
    const ajv = new Ajv2020({
      allErrors: true,
      strict: true,
      strictRequired: false,
      allowUnionTypes: true,
      verbose: true,
    });
    compiled = ajv.compile(schema);
  }
  return compiled;
}

export type { ErrorObject };
