/**
 * Setups that are valid but look unsafe for untrusted code, reported by
 * `sandfleet validate` as warnings: they never stop it. One today: a sandbox
 * on the host's kernel (runc) that reaches the whole internet, where an
 * escape or a misuse has the host and every address to work with.
 */
import type { SpecIssue } from "./issues.ts";
import type { SandfleetSpec, SpecSandbox } from "./types.ts";
import type { YamlSource } from "./yaml-source.ts";

export function advisoryIssues(spec: SandfleetSpec, source: YamlSource): SpecIssue[] {
  if (spec.internet !== true) return [];
  const sandboxes: [string[], SpecSandbox][] = [
    ...Object.entries(spec.sandboxes).map(([name, s]): [string[], SpecSandbox] => [["sandboxes", name], s]),
    ...Object.entries(spec.pools).map(([name, p]): [string[], SpecSandbox] => [
      ["pools", name, "template"],
      p.template,
    ]),
  ];
  return sandboxes
    .filter(([, s]) => s.network === "app" && (s.runtime ?? "runc") === "runc")
    .map(([at]) => ({
      file: spec.file,
      ...source.at([...at, "network"]),
      path: [...at, "network"].join("."),
      severity: "warning" as const,
      reason:
        "runs on the host's kernel (runc) and reaches the whole internet (internet: true): for untrusted code, " +
        "keep it off the internet (internet: false), or run it under runsc on an engine whose gVisor has networking",
    }));
}
