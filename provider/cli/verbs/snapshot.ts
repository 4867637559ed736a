import { resolveSandbox } from "../sandbox-ref.ts";
import { printJson } from "../output.ts";
import { EXIT, stringOption, UsageError, type Verb } from "../verb.ts";

export const snapshot: Verb = {
  name: "snapshot",
  summary: "commit a sandbox's filesystem to an image and print its reference",
  usage: "sandfleet snapshot SANDBOX [--name NAME] [--json]",
  examples: ["sandfleet snapshot code-interpreter/sb-1 --name warmed-up"],
  options: { name: { type: "string" } },
  async run({ values, positionals, json }) {
    const [ref] = positionals;
    if (!ref) throw new UsageError("needs a sandbox");
    const name = stringOption(values, "name");
    const state = await (await resolveSandbox(ref)).snapshotFilesystem(name);
    if (json) printJson(state);
    else console.log(state.imageRef);
    return EXIT.ok;
  },
};
