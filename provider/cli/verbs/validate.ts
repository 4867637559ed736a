import { readFileSync } from "node:fs";
import { formatIssue, loadSpec, type SpecIssue } from "../../spec/index.ts";
import { printJson } from "../output.ts";
import { EXIT, type Verb } from "../verb.ts";

export const validate: Verb = {
  usage: "sandfleet validate [FILE...] [--json]",
  examples: ["sandfleet validate", "sandfleet validate stacks/*/sandfleet.yaml --json"],
  options: {},
  async run({ positionals, json }) {
    const files = positionals.length > 0 ? positionals : ["sandfleet.yaml"];
    const issues: SpecIssue[] = [];
    for (const file of files) {
      let text: string;
      try {
        text = readFileSync(file, "utf8");
      } catch (error) {
        issues.push({
          file,
          line: 1,
          column: 1,
          path: "(file)",
          reason: (error as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : String(error),
        });
        continue;
      }
      issues.push(...loadSpec(text, file).issues);
    }
    if (json) printJson({ valid: issues.length === 0, files, issues });
    else if (issues.length === 0) console.log(`${files.join(", ")}: valid`);
    else for (const issue of issues) console.error(formatIssue(issue));
    return issues.length === 0 ? EXIT.ok : EXIT.failed;
  },
};
