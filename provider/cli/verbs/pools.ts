import { client } from "../client.ts";
import { printJson, printTable } from "../output.ts";
import { EXIT, stringOption, type Verb } from "../verb.ts";

export const pools: Verb = {
  usage: "sandfleet pools [--app APP] [--json]",
  examples: ["sandfleet pools", "sandfleet pools --app code-interpreter --json"],
  options: { app: { type: "string" } },
  async run({ values, json }) {
    const app = stringOption(values, "app");
    const found = await client().pools.list(app ? { app } : {});
    if (json) printJson(found);
    else
      printTable(
        ["APP", "POOL", "REPLICAS", "READY", "PENDING", "CLAIMED", "PAUSED"],
        found.map((p) => [
          p.app,
          p.name,
          String(p.replicas),
          String(p.ready),
          String(p.pending),
          String(p.claimed),
          String(p.paused),
        ]),
      );
    return EXIT.ok;
  },
};
