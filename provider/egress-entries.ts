/**
 * The grammar of an egress allowlist entry, written once for TypeScript; the
 * egress daemon's supervisor/egress/entries.go holds the same rule, and both
 * are tested against supervisor/testdata/addresses.json, so a list that
 * passes `sandfleet validate` is one the daemon enforces as written.
 *
 * - an IPv4 address in dotted decimal, each part 0-255 without leading zeros;
 * - a CIDR: such an address, '/', a prefix length 0-32 without leading zeros,
 *   and no bits set past the prefix (10.0.0.1/8 is refused, not widened);
 * - a domain: labels of ASCII letters, digits and '-', 1 to 63 characters, not
 *   starting or ending with '-', at most 253 characters in all, the last label
 *   not all digits, one optional final '.'; matched without regard to ASCII
 *   case; an internationalised name is written in its punycode (xn--) form;
 * - a wildcard: "*." and a domain, matching the names below it.
 */

export type EgressEntry =
  | { kind: "address" | "cidr"; canonical: string }
  | { kind: "domain" | "wildcard"; canonical: string; labels: string[] };

const WORDS = "is not a domain, a *.domain wildcard, or an IPv4 address or CIDR";

/** The entry read, or why it cannot be enforced (the words the daemon uses too). */
export function parseEgressEntry(entry: string): EgressEntry | { problem: string } {
  const fail = (why: string) => ({ problem: `${JSON.stringify(entry)} ${WORDS}: ${why}` });
  if (entry === "") return fail("it is empty");
  if (entry.length > 256) return fail("it is longer than 256 characters");
  for (let i = 0; i < entry.length; i++) {
    const code = entry.charCodeAt(i);
    if (code >= 0x80)
      return fail("it holds a non-ASCII character; write an internationalised name in its punycode (xn--) form");
    if (code <= 0x20 || code === 0x7f) return fail(`it holds a space or control character at ${String(i + 1)}`);
  }
  if (/^[0-9./]+$/.test(entry)) return parseNumeric(entry, fail);
  const wildcard = entry.startsWith("*.");
  const text = (wildcard ? entry.slice(2) : entry).replace(/\.$/, "");
  if (text.length > 253) return fail("a domain has at most 253 characters");
  const labels = text.split(".");
  for (const [i, label] of labels.entries()) {
    const why = labelProblem(label);
    if (why) return fail(`label ${String(i + 1)} ${why}`);
  }
  const lower = labels.map(asciiLower);
  if (/^[0-9]+$/.test(lower[lower.length - 1] ?? "")) return fail("the last label of a domain is never all digits");
  return wildcard
    ? { kind: "wildcard", canonical: `*.${lower.join(".")}`, labels: lower }
    : { kind: "domain", canonical: lower.join("."), labels: lower };
}

function parseNumeric(entry: string, fail: (why: string) => { problem: string }): EgressEntry | { problem: string } {
  const slash = entry.indexOf("/");
  const addressText = slash < 0 ? entry : entry.slice(0, slash);
  const parts = addressText.split(".");
  if (parts.length !== 4) return fail("an IPv4 address has four parts");
  const octets: number[] = [];
  for (const [i, part] of parts.entries()) {
    const n = decimal(part, 255);
    if (n === undefined) return fail(`part ${String(i + 1)} of the address must be 0 to 255 without leading zeros`);
    octets.push(n);
  }
  const address = octets.join(".");
  if (slash < 0) return { kind: "address", canonical: address };
  const bits = decimal(entry.slice(slash + 1), 32);
  if (bits === undefined) return fail("the prefix length must be 0 to 32 without leading zeros");
  const value = octets.reduce((acc, o) => acc * 256 + o, 0);
  const size = 2 ** (32 - bits);
  const network = value - (value % size);
  if (network !== value) {
    const masked = [24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256).join(".");
    return fail(`bits are set past the prefix; the network is ${masked}/${String(bits)}`);
  }
  return { kind: "cidr", canonical: `${address}/${String(bits)}` };
}

/** 0..max written without leading zeros. */
function decimal(text: string, max: number): number | undefined {
  if (!/^(0|[1-9][0-9]{0,2})$/.test(text)) return undefined;
  const n = Number(text);
  return n <= max ? n : undefined;
}

/** Why a label is not a hostname label: letters, digits and '-'. */
function labelProblem(label: string): string | undefined {
  if (label === "") return "is empty";
  if (label.length > 63) return "is longer than 63 characters";
  if (label.startsWith("-") || label.endsWith("-")) return "starts or ends with '-'";
  const bad = /[^A-Za-z0-9-]/.exec(label);
  return bad ? `holds ${JSON.stringify(bad[0])}; a label has only letters, digits and '-'` : undefined;
}

/** A-Z only: no Unicode case folding (the Kelvin sign is not a k). */
function asciiLower(text: string): string {
  return text.replace(/[A-Z]/g, (c) => c.toLowerCase());
}
