import { readFileSync } from "node:fs";
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";

// The schema files, found through the package's own exports: the same from the sources, dist/ or a bundle.
/** The JSON Schema of sandfleet.yaml. */
export const SCHEMA_PATH = new URL(import.meta.resolve("sandfleet/schema.json"));
/** The JSON Schema of a policy file. */
export const POLICY_SCHEMA_PATH = new URL(import.meta.resolve("sandfleet/policy-schema.json"));

const compiled = new Map<string, ValidateFunction>();

function validatorOf(path: URL): ValidateFunction {
  let validate = compiled.get(path.href);
  if (!validate) {
    const schema = JSON.parse(readFileSync(path, "utf8")) as object;
    const ajv = new Ajv2020({
      allErrors: true,
      strict: true,
      strictRequired: false,
      allowUnionTypes: true,
      verbose: true,
    });
    validate = ajv.compile(schema);
    compiled.set(path.href, validate);
  }
  return validate;
}

/** The JSON Schema of sandfleet.yaml, compiled once per process. */
export function schemaValidator(): ValidateFunction {
  return validatorOf(SCHEMA_PATH);
}

/** The JSON Schema of a policy file, compiled once per process. */
export function policySchemaValidator(): ValidateFunction {
  return validatorOf(POLICY_SCHEMA_PATH);
}

export type { ErrorObject, ValidateFunction };
