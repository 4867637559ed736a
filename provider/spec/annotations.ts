/**
 * Problems in the forms CI systems show on a pull request: GitHub workflow
 * commands (annotations on the diff), GitLab's code-quality report, JSON, or
 * the plain `file:line:column  path: reason` lines.
 */
import { sha256Hex } from "../digest.ts";
import { formatIssue, type SpecIssue } from "./issues.ts";

export type AnnotationFormat = "text" | "json" | "github" | "gitlab";

// GitHub's workflow commands escape these in a message, and also `:` and `,` in a property.
const escapeData = (text: string) => text.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
const escapeProperty = (text: string) => escapeData(text).replace(/:/g, "%3A").replace(/,/g, "%2C");

function github(issue: SpecIssue): string {
  const command = issue.severity === "warning" ? "warning" : "error";
  const title = issue.rule ? `sandfleet policy ${issue.rule}` : "sandfleet";
  const properties = [
    `file=${escapeProperty(issue.file)}`,
    `line=${String(issue.line)}`,
    `col=${String(issue.column)}`,
    `title=${escapeProperty(title)}`,
  ].join(",");
  return `::${command} ${properties}::${escapeData(`${issue.path}: ${issue.reason}`)}`;
}

function gitlab(issues: readonly SpecIssue[]): string {
  return JSON.stringify(
    issues.map((issue) => ({
      description: `${issue.path}: ${issue.reason}`,
      check_name: issue.rule ? `sandfleet-policy-${issue.rule}` : "sandfleet",
      // Stable across runs for the same problem, so GitLab can tell new ones from old.
      fingerprint: sha256Hex(`${issue.file}\0${issue.path}\0${issue.reason}`),
      severity: issue.severity === "warning" ? "minor" : "major",
      location: { path: issue.file, lines: { begin: issue.line } },
    })),
    null,
    2,
  );
}

/** The issues in the given format, as the text to print (empty when there are none, except for JSON forms). */
export function annotations(issues: readonly SpecIssue[], format: AnnotationFormat, files: readonly string[]): string {
  switch (format) {
    case "text":
      return issues.map(formatIssue).join("\n");
    case "github":
      return issues.map(github).join("\n");
    case "gitlab":
      return gitlab(issues);
    case "json":
      return JSON.stringify({ valid: !issues.some((i) => i.severity !== "warning"), files, issues }, null, 2);
  }
}
