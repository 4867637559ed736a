import { parseDuration } from "../../index.ts";
import { client } from "../client.ts";
import { printJson } from "../output.ts";
import { EXIT, UsageError, type Verb } from "../verb.ts";

export const extend: Verb = {
  usage: "sandfleet extend SANDBOX DURATION [--json]",
  examples: ["sandfleet extend code-interpreter/sb-1 30m", "sandfleet extend 3f2a9c 90s"],
  options: {},
  async run({ positionals, json }) {
    const [ref, duration] = positionals;
    if (!ref || !duration) throw new UsageError("needs a sandbox and a duration, like 30m");
    const timeoutMs = parseDuration(duration);
    if (timeoutMs === undefined) throw new UsageError(`${duration} is not a duration like 30m`);
    const sandbox = await client().sandboxes.fromRef(ref);
    await sandbox.setTimeout(timeoutMs);
    const deadline = new Date(Date.now() + timeoutMs).toISOString();
    if (json) printJson({ id: sandbox.id, name: `${sandbox.app}/${sandbox.name}`, deadline });
    else console.log(`${sandbox.app}/${sandbox.name} now ends at ${deadline} (in ${duration})`);
    return EXIT.ok;
  },
};
