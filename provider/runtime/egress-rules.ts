// What an egress allowlist may hold, apart from how it is enforced, so that
// the spec checks it without an engine client.
import { parseEgressEntry } from "../egress-entries.ts";
import { objectName } from "./names.ts";

/**
 * A sandbox's egress allowlist: domains (`pypi.org`), wildcards
 * (`*.pythonhosted.org`: the names below it, not the name itself), and IPv4
 * addresses or CIDRs. Nothing else is reachable, and only allowed names resolve.
 */
export interface EgressPolicy {
  allow: string[];
}

export const MAX_EGRESS_ENTRIES = 256;

/** Why an allowlist entry cannot be enforced, or undefined (the grammar is in provider/egress-entries.ts). */
export function egressEntryProblem(entry: unknown): string | undefined {
  if (typeof entry !== "string") return "must be a string";
  const parsed = parseEgressEntry(entry);
  return "problem" in parsed ? parsed.problem : undefined;
}

export function egressNetworkName(app: string): string {
  return objectName("egress", app, "net");
}

/** Why a sandbox's other network settings rule out an allowlist: none, one or both. */
export function egressSettingProblems(network: unknown, runtime: unknown): string[] {
  return [
    ...(network === "app" ? ['gives the sandbox its own network; remove network: "app"'] : []),
    ...(runtime === "runsc" ? ["needs runc: runsc (gVisor) is registered without networking on this engine"] : []),
  ];
}
