import { client } from "../client.ts";
import { printJson } from "../output.ts";
import { EXIT, stringOption, UsageError, type Verb } from "../verb.ts";

export const snapshot: Verb = {
  usage: "sandfleet snapshot SANDBOX [--name NAME] [--json]",
  examples: ["sandfleet snapshot code-interpreter/sb-1 --name warmed-up"],
  options: { name: { type: "string" } },
  async run({ values, positionals, json }) {
    const [ref] = positionals;
    if (!ref) throw new UsageError("needs a sandbox");
    const name = stringOption(values, "name");
    const state = await (await client().sandboxes.fromRef(ref)).snapshotFilesystem(name);
    if (json) printJson(state);
    else console.log(state.imageRef);
    return EXIT.ok;
  },
};
