// What an egress allowlist may hold, apart from how it is enforced, so that
// the spec checks it without an engine client.
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

const LABEL_NAME = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

/** Why an allowlist entry cannot be enforced (the daemon's own parser holds the same rule). */
export function egressEntryProblem(entry: unknown): string | undefined {
  if (typeof entry !== "string") return "must be a string";
  const text = entry.trim().toLowerCase().replace(/\.$/, "");
  const cidr = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(text);
  if (cidr) {
    const octets = cidr.slice(1, 5).map(Number);
    const bits = cidr[5] === undefined ? 32 : Number(cidr[5]);
    if (octets.every((o) => o <= 255) && bits <= 32) return undefined;
    return `${JSON.stringify(entry)} is not a valid IPv4 address or CIDR`;
  }
  const name = text.startsWith("*.") ? text.slice(2) : text;
  const labels = name.split(".");
  if (name.length > 0 && name.length <= 253 && labels.every((l) => LABEL_NAME.test(l))) return undefined;
  return `${JSON.stringify(entry)} is not a domain, a *.domain wildcard, or an IPv4 address or CIDR`;
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
