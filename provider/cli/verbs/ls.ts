import { client } from "../client.ts";
import { age, printJson, printTable } from "../output.ts";
import { EXIT, listOption, pairs, stringOption, type Verb } from "../verb.ts";

export const ls: Verb = {
  usage: "sandfleet ls [--app APP] [--tag KEY=VALUE]... [--all] [--json]",
  examples: ["sandfleet ls --app code-interpreter --tag team=agents", "sandfleet ls --all --json"],
  options: {
    app: { type: "string" },
    tag: { type: "string", multiple: true },
    all: { type: "boolean" },
  },
  async run({ values, json }) {
    const app = stringOption(values, "app");
    const sandboxes = await client().sandboxes.list({
      ...(app ? { app } : {}),
      tags: pairs(listOption(values, "tag"), "--tag"),
      includeEnded: values.all === true,
    });
    if (json) printJson(sandboxes.map((s) => ({ ...s, exitCode: s.exitCode ?? null })));
    else {
      printTable(
        ["ID", "APP", "NAME", "POOL", "STATUS", "EXIT", "AGE", "TAGS"],
        sandboxes.map((s) => [
          s.id.slice(0, 12),
          s.app,
          s.name,
          s.pool ? `${s.pool.name} (${s.pool.state})` : "-",
          s.status,
          s.exitCode === undefined ? "-" : `${String(s.exitCode)}${s.endReason ? ` (${s.endReason})` : ""}`,
          age(s.createdAt),
          Object.entries(s.tags)
            .map(([k, v]) => `${k}=${v}`)
            .join(","),
        ]),
      );
    }
    return EXIT.ok;
  },
};
