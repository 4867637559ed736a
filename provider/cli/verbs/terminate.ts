import { client } from "../client.ts";
import { printJson, printTable } from "../output.ts";
import { EXIT, UsageError, type Verb } from "../verb.ts";

export const terminate: Verb = {
  usage: "sandfleet terminate SANDBOX... [--rm] [--json]",
  examples: ["sandfleet terminate code-interpreter/sb-1", "sandfleet terminate 3f2a9c 8e1b77 --rm"],
  options: { rm: { type: "boolean" } },
  async run({ values, positionals, json }) {
    if (positionals.length === 0) throw new UsageError("needs at least one sandbox");
    const results: { id: string; name: string; exitCode: number; removed: boolean }[] = [];
    for (const ref of positionals) {
      const sandbox = await client().sandboxes.fromRef(ref);
      const exitCode = await sandbox.terminate();
      if (values.rm === true) await sandbox.remove();
      results.push({ id: sandbox.id, name: `${sandbox.app}/${sandbox.name}`, exitCode, removed: values.rm === true });
    }
    if (json) printJson(results);
    else
      printTable(
        ["SANDBOX", "EXIT", "REMOVED"],
        results.map((r) => [r.name, String(r.exitCode), String(r.removed)]),
      );
    return EXIT.ok;
  },
};
