import type { PauseResult } from "../../index.ts";
import { client } from "../client.ts";
import { printJson } from "../output.ts";
import { EXIT, UsageError, type Verb } from "../verb.ts";

/** `pause` and `resume`: the same verb both ways, on each sandbox named. */
function freezeVerb(action: "pause" | "resume", done: string): Verb {
  const pausing = action === "pause";
  return {
    usage: `sandfleet ${action} SANDBOX...${pausing ? " [--checkpoint]" : ""} [--json]`,
    examples: [
      `sandfleet ${action} code-interpreter/sb-1`,
      ...(pausing ? ["sandfleet pause --checkpoint 3f2a9c"] : []),
    ],
    options: pausing ? { checkpoint: { type: "boolean" } } : {},
    async run({ positionals, values, json }) {
      if (positionals.length === 0) throw new UsageError("needs at least one sandbox");
      const results: { id: string; name: string; mode?: string; checkpointError?: string }[] = [];
      for (const ref of positionals) {
        const sandbox = await client().sandboxes.fromRef(ref);
        let result: PauseResult | undefined;
        if (pausing) result = await sandbox.pause({ checkpoint: values.checkpoint === true });
        else await sandbox.resume();
        results.push({ id: sandbox.id, name: `${sandbox.app}/${sandbox.name}`, ...result });
      }
      if (json) printJson(results);
      else
        for (const r of results) {
          console.log(`${r.name} ${done}${r.mode === "checkpoint" ? " (checkpointed to disk)" : ""}`);
          if (r.checkpointError) console.error(`${r.name}: ${r.checkpointError}`);
        }
      return EXIT.ok;
    },
  };
}

export const pause = freezeVerb("pause", "paused");
export const resume = freezeVerb("resume", "resumed");
