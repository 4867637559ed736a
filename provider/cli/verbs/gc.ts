import { client } from "../client.ts";
import { printJson, printTable } from "../output.ts";
import { EXIT, stringOption, type Verb } from "../verb.ts";

export const gc: Verb = {
  usage: "sandfleet gc [--app APP] [--dry-run] [--json]",
  examples: ["sandfleet gc --dry-run", "sandfleet gc --app code-interpreter"],
  options: { app: { type: "string" }, "dry-run": { type: "boolean" } },
  async run({ values, json }) {
    const app = stringOption(values, "app");
    const garbage = await client().gc({
      ...(app ? { app } : {}),
      dryRun: values["dry-run"] === true,
    });
    if (json) printJson(garbage);
    else {
      const verb = values["dry-run"] === true ? "would remove" : "removed";
      printTable(
        ["KIND", verb.toUpperCase()],
        [
          ...garbage.containers.map((c) => ["sandbox", c.name]),
          ...garbage.images.map((i) => ["snapshot", i]),
          ...garbage.supervisors.map((v) => ["supervisor", v]),
        ],
      );
    }
    return EXIT.ok;
  },
};
