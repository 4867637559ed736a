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
  /** "error" unless a policy rule says "warning": a warning is reported and lets validate and up go on. */
  severity?: "error" | "warning";
  /** The policy rule broken, for a policy violation. */
  rule?: string;
}

/** `file:line:column  path: reason`, the shape editors and CI annotations understand. */
export function formatIssue(issue: SpecIssue): string {
  const level = issue.severity === "warning" ? "warning: " : "";
  return `${issue.file}:${issue.line}:${issue.column}  ${level}${issue.path}: ${issue.reason}`;
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

/** Whether any of the issues stops validate and up (a policy warning does not). */
export function hasErrors(issues: readonly SpecIssue[]): boolean {
  return issues.some((issue) => issue.severity !== "warning");
}
