import { readFileSync } from "node:fs";
import { SCHEMA_PATH } from "../../spec/index.ts";
import { EXIT, type Verb } from "../verb.ts";

export const schema: Verb = {
  usage: "sandfleet schema",
  examples: ["sandfleet schema > sandfleet.schema.json"],
  options: {},
  async run() {
    process.stdout.write(readFileSync(SCHEMA_PATH, "utf8"));
    return EXIT.ok;
  },
};
