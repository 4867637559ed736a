import { reportedExitCode } from "../../runtime/lifetime.ts";
import { connectDocker } from "../../docker/client.ts";
import { listSandboxes } from "../../runtime/sandbox-ops.ts";
import { age, printJson, printTable } from "../output.ts";
import { EXIT, listOption, pairs, stringOption, type Verb } from "../verb.ts";

export const ls: Verb = {
  name: "ls",
  summary: "list sandboxes",
  usage: "sandfleet ls [--app APP] [--tag KEY=VALUE]... [--all] [--json]",
  examples: ["sandfleet ls --app code-interpreter --tag team=agents", "sandfleet ls --all --json"],
  options: {
    app: { type: "string" },
    tag: { type: "string", multiple: true },
    all: { type: "boolean" },
  },
  async run({ values, json }) {
    const app = stringOption(values, "app");
    // One inspect per sandbox: the listing's own states, not a handle that inspects again.
    const states = await listSandboxes(connectDocker(), {
      ...(app ? { app } : {}),
      tags: pairs(listOption(values, "tag"), "--tag"),
      includeEnded: values.all === true,
    });
    const rows = states.map((s) => ({
      id: s.id,
      app: s.app,
      name: s.name,
      status: s.status,
      exitCode: reportedExitCode(s.container) ?? null,
      startedAt: s.container.startedAt,
      tags: s.tags,
      ports: s.ports,
    }));
    if (json) printJson(rows);
    else {
      printTable(
        ["ID", "APP", "NAME", "STATUS", "EXIT", "AGE", "TAGS"],
        rows.map((r) => [
          r.id.slice(0, 12),
          r.app,
          r.name,
          r.status,
          r.exitCode === null ? "-" : String(r.exitCode),
          age(r.startedAt),
          Object.entries(r.tags)
            .map(([k, v]) => `${k}=${v}`)
            .join(","),
        ]),
      );
    }
    return EXIT.ok;
  },
};
