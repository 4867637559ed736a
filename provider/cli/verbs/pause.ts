import { client } from "../client.ts";
import { printJson } from "../output.ts";
import { EXIT, UsageError, type Verb } from "../verb.ts";

/** `pause` and `resume`: the same verb both ways, on each sandbox named. */
function freezeVerb(action: "pause" | "resume", done: string): Verb {
  return {
    usage: `sandfleet ${action} SANDBOX... [--json]`,
    examples: [`sandfleet ${action} code-interpreter/sb-1`],
    options: {},
    async run({ positionals, json }) {
      if (positionals.length === 0) throw new UsageError("needs at least one sandbox");
      const results: { id: string; name: string }[] = [];
      for (const ref of positionals) {
        const sandbox = await client().sandboxes.fromRef(ref);
        await sandbox[action]();
        results.push({ id: sandbox.id, name: `${sandbox.app}/${sandbox.name}` });
      }
      if (json) printJson(results);
      else for (const r of results) console.log(`${r.name} ${done}`);
      return EXIT.ok;
    },
  };
}

export const pause = freezeVerb("pause", "paused");
export const resume = freezeVerb("resume", "resumed");
