import { SandfleetError } from "../errors.ts";

/** One problem in a spec file, at the place a user must edit. */
export interface SpecIssue {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  /** Dotted path of the property, e.g. `sandboxes.web.memory`; `syntax` for YAML syntax errors. */
  path: string;
  reason: string;
}

/** `file:line:column  path: reason`, the shape editors and CI annotations understand. */
export function formatIssue(issue: SpecIssue): string {
  return `${issue.file}:${issue.line}:${issue.column}  ${issue.path}: ${issue.reason}`;
}

export function compareIssues(a: SpecIssue, b: SpecIssue): number {
  return a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column || a.path.localeCompare(b.path);
}

/** Thrown when a spec file has problems; carries every one of them. */
export class SpecError extends SandfleetError {
  override readonly name: string = "SpecError";
  readonly issues: readonly SpecIssue[];

  constructor(issues: readonly SpecIssue[]) {
    const count = issues.length === 1 ? "1 problem" : `${issues.length} problems`;
    super(`${count} in ${[...new Set(issues.map((i) => i.file))].join(", ")}:\n${issues.map(formatIssue).join("\n")}`);
    this.issues = issues;
  }
}
