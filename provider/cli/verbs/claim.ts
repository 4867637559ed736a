import { parseDuration } from "../../index.ts";
import { client } from "../client.ts";
import { printJson } from "../output.ts";
import { EXIT, stringOption, UsageError, type Verb } from "../verb.ts";

export const claim: Verb = {
  usage: "sandfleet claim APP/POOL [--wait 10s] [--json]",
  examples: ["sandfleet claim code-interpreter/python", "id=$(sandfleet claim agents/py --wait 30s)"],
  options: { wait: { type: "string" } },
  async run({ values, positionals, json }) {
    const [ref] = positionals;
    const slash = ref?.indexOf("/") ?? -1;
    if (!ref || slash <= 0) throw new UsageError("needs a pool as APP/POOL");
    const wait = stringOption(values, "wait");
    const waitMs = wait === undefined ? 0 : parseDuration(wait);
    if (waitMs === undefined) throw new UsageError(`--wait ${String(wait)} is not a duration like 10s`);
    const sandbox = await client().sandboxes.claim(ref.slice(0, slash), ref.slice(slash + 1), { waitMs });
    if (json) printJson({ id: sandbox.id, app: sandbox.app, pool: ref.slice(slash + 1) });
    else console.log(sandbox.id);
    return EXIT.ok;
  },
};
