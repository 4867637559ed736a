// What an egress allowlist may hold, apart from how it is enforced, so that
// the spec checks it without an engine client.
import { parseEgressEntry } from "../../egress-entries.ts";
import type { Capability, EngineCapabilities } from "../../engines/port.ts";
import { nonAsciiProblem, quoted } from "../../reference-rules.ts";
import { objectName } from "../engine-state/names.ts";

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
  // Checked before case folding: "\u212A" (the Kelvin sign) lower-cases to an ASCII "k".
  const other = nonAsciiProblem(entry);
  if (other) return `${quoted(entry)} ${other}`;
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

/** An IPv4 CIDR as the range of addresses it covers, host bits cleared, as the daemon reads it. */
function cidrRange(entry: string): [start: number, end: number] | undefined {
  const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)(?:\/(\d+))?$/.exec(entry.trim().replace(/\.$/, ""));
  if (!match || egressEntryProblem(entry)) return undefined;
  const address = match.slice(1, 5).reduce((sum, octet) => sum * 256 + Number(octet), 0);
  const size = 2 ** (32 - (match[5] === undefined ? 32 : Number(match[5])));
  const start = Math.floor(address / size) * size;
  return [start, start + size];
}

/**
 * How much of the internet an allowlist opens: the number of IPv4 addresses
 * its CIDRs cover together (overlaps counted once), and its wildcards that
 * sit directly on a top-level domain (`*.com`), which match a whole namespace.
 */
export function allowlistReach(entries: readonly string[]): { addresses: number; topLevelWildcards: string[] } {
  const ranges = entries
    .map(cidrRange)
    .filter((range): range is [number, number] => range !== undefined)
    .sort((a, b) => a[0] - b[0]);
  let addresses = 0;
  let covered = 0;
  for (const [start, end] of ranges) {
    if (end <= covered) continue;
    addresses += end - Math.max(start, covered);
    covered = end;
  }
  const topLevelWildcards = entries.filter((entry) => {
    const text = entry.trim().toLowerCase().replace(/\.$/, "");
    return text.startsWith("*.") && !text.slice(2).includes(".");
  });
  return { addresses, topLevelWildcards };
}

/** Why an engine cannot hold an allowlist's names, or its addresses: its capabilities' words; undefined where it can. */
export interface EgressRefusedKinds {
  names?: string | undefined;
  addresses?: string | undefined;
}

/** The kinds of entry an engine's capabilities refuse, in their words. */
export function egressRefusedBy(
  capabilities: Pick<EngineCapabilities, "egressAddresses" | "egressNames">,
): EgressRefusedKinds {
  const why = (c: Capability) => (c.supported ? undefined : c.why);
  return { names: why(capabilities.egressNames), addresses: why(capabilities.egressAddresses) };
}

/**
 * The entries of a list that an engine cannot hold, by their place in the
 * list, each with the engine's reason: the spec (which knows its engine from
 * the file) and the runtime (which asks the engine's capabilities) judge
 * with this one rule and the same words. Entries the grammar refuses are
 * left to egressEntryProblem.
 */
export function egressEntriesRefused(
  allow: readonly unknown[],
  refused: EgressRefusedKinds,
): { index: number; reason: string }[] {
  const out: { index: number; reason: string }[] = [];
  allow.forEach((entry, index) => {
    if (typeof entry !== "string") return;
    const parsed = parseEgressEntry(entry);
    if ("problem" in parsed) return;
    const named = parsed.kind === "domain" || parsed.kind === "wildcard";
    const reason = named ? refused.names : refused.addresses;
    if (reason) out.push({ index, reason: `${JSON.stringify(entry)}: ${reason}` });
  });
  return out;
}

/** The canonical addresses and CIDRs of a list the grammar accepts ("10.0.0.1" stays an address; the engine widens it to /32). */
export function egressAddressEntries(allow: readonly string[]): string[] {
  return allow.flatMap((entry) => {
    const parsed = parseEgressEntry(entry);
    return "problem" in parsed || (parsed.kind !== "address" && parsed.kind !== "cidr") ? [] : [parsed.canonical];
  });
}
