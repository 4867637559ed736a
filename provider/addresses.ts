/**
 * Addresses, host names and URLs that sandfleet is asked to reach, each told
 * apart once: which addresses are inside someone's network (loopback,
 * link-local, private and the like), and what a URL or a registry really
 * names once parsed. The spec's checks, the TypeScript API and the webhook
 * sender all ask here.
 */
import { quoted, ruleProblem } from "./rules.ts";

const OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
const DOTTED_QUAD = new RegExp(`^${OCTET}(\\.${OCTET}){3}$`);

/** Whether a text is an IPv4 address in dotted-quad form (the only form the URL parser leaves). */
function isIPv4(text: string): boolean {
  return DOTTED_QUAD.test(text);
}

/** Whether a text (without a zone) is an IPv6 address: the URL parser is the judge, as it is for URLs. */
function isIPv6(text: string): boolean {
  if (!text.includes(":")) return false;
  try {
    return new URL(`http://[${text}]/`).hostname.startsWith("[");
  } catch {
    return false;
  }
}

type Range4 = [first: number, bits: number, what: string];

const v4 = (text: string): number => text.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);

// IPv4 ranges that are not the public internet (RFC 6890 and its updates).
const RANGES_V4: Range4[] = [
  [v4("0.0.0.0"), 8, "an unspecified address"],
  [v4("10.0.0.0"), 8, "a private address (RFC 1918)"],
  [v4("100.64.0.0"), 10, "a shared address (carrier-grade NAT, RFC 6598)"],
  [v4("127.0.0.0"), 8, "a loopback address"],
  [v4("169.254.0.0"), 16, "a link-local address (where cloud metadata services answer)"],
  [v4("172.16.0.0"), 12, "a private address (RFC 1918)"],
  [v4("192.0.0.0"), 24, "a reserved address (IETF protocol assignments)"],
  [v4("192.0.2.0"), 24, "a documentation address"],
  [v4("192.168.0.0"), 16, "a private address (RFC 1918)"],
  [v4("198.18.0.0"), 15, "a benchmarking address"],
  [v4("198.51.100.0"), 24, "a documentation address"],
  [v4("203.0.113.0"), 24, "a documentation address"],
  [v4("224.0.0.0"), 4, "a multicast address"],
  [v4("240.0.0.0"), 4, "a reserved address (including broadcast)"],
];

function ipv4Problem(address: string): string | undefined {
  const n = v4(address);
  for (const [first, bits, what] of RANGES_V4) {
    const size = 2 ** (32 - bits);
    if (n >= first && n < first + size) return what;
  }
  return undefined;
}

/** The eight 16-bit groups of an IPv6 address (its zone, if any, left off). */
function groups6(address: string): number[] {
  let text = address.split("%")[0] ?? "";
  // A dotted IPv4 tail is two groups.
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail?.[1]) {
    const n = v4(tail[1]);
    text = `${text.slice(0, -tail[1].length)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head = "", rest] = text.split("::");
  const part = (s: string) => (s === "" ? [] : s.split(":").map((g) => parseInt(g, 16)));
  const left = part(head);
  const right = rest === undefined ? [] : part(rest);
  return [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
}

function embedded4(g: number[], at: number): string {
  const hi = g[at] ?? 0;
  const lo = g[at + 1] ?? 0;
  return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join(".");
}

function ipv6Problem(address: string): string | undefined {
  if (address.includes("%")) return "an address with a zone (link-local)";
  const g = groups6(address);
  const [a = 0, b = 0] = g;
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zeros(0, 8)) return "an unspecified address";
  if (zeros(0, 7) && g[7] === 1) return "a loopback address";
  const inner = (at: number, form: string) => {
    const ip = embedded4(g, at);
    const why = ipv4Problem(ip);
    return `${form} of ${ip}${why ? `, ${why}` : ""}; write the IPv4 address itself`;
  };
  if (zeros(0, 5) && g[5] === 0xffff) return inner(6, "an IPv4-mapped IPv6 form");
  if (zeros(0, 4) && g[4] === 0xffff && g[5] === 0) return inner(6, "an IPv4-translated IPv6 form");
  if (zeros(0, 6)) return inner(6, "an IPv4-compatible IPv6 form");
  if (a === 0x64 && b === 0xff9b) return inner(6, "a NAT64 form");
  if (a === 0x2002) return inner(1, "a 6to4 form");
  if (a === 0x2001 && b === 0) return "a Teredo tunnel address";
  if (a === 0x2001 && b === 0xdb8) return "a documentation address";
  if (a === 0x100 && zeros(1, 4)) return "a discard address";
  if ((a & 0xfe00) === 0xfc00) return "a unique local address (private, RFC 4193)";
  if ((a & 0xffc0) === 0xfe80) return "a link-local address";
  if ((a & 0xffc0) === 0xfec0) return "a site-local address (private)";
  if ((a & 0xff00) === 0xff00) return "a multicast address";
  return undefined;
}

/**
 * Why an IP address is not a public unicast address of the internet, or
 * undefined when it is one. IPv4 inside IPv6 (mapped, compatible, NAT64,
 * 6to4) is never public here: the same host has a plain IPv4 address.
 */
export function nonPublicAddress(address: string): string | undefined {
  const bare = address.replace(/^\[|\]$/g, "");
  if (isIPv4(bare)) return ipv4Problem(bare);
  if (isIPv6(bare.split("%")[0] ?? "")) return ipv6Problem(bare);
  return undefined;
}

/** Whether a URL's host (as the WHATWG parser gives it) is an IP address rather than a name. */
export function isIpHost(hostname: string): boolean {
  const bare = hostname.replace(/^\[|\]$/g, "");
  return isIPv4(bare) || isIPv6(bare);
}

/** Why a host name or address, before any lookup, is inside someone's network. */
export function nonPublicHost(hostname: string): string | undefined {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  // RFC 6761: every name under localhost is the machine itself, whatever DNS says.
  if (host === "localhost" || host.endsWith(".localhost")) return "a loopback name";
  return nonPublicAddress(host);
}

/** The words every refusal of an inside address ends with: how to ask for it. */
export const ALLOW_PRIVATE_WORDS = "a webhook to an address inside a network needs allowPrivate: true";

const LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

/** Why a text is not a DNS host name (letters, digits and '-' in dot-separated labels) nor an IPv4 address. */
export function hostNameProblem(host: string): string | undefined {
  if (isIPv4(host)) return undefined;
  if (host.length > 0 && host.length <= 253 && host.split(".").every((label) => LABEL.test(label))) return undefined;
  return `host ${quoted(host)} is not a host name (labels of letters, digits and '-', separated by single dots) or an IPv4 address`;
}

/** Why a port, as written, is not 1 to 65535. */
export function portTextProblem(port: string): string | undefined {
  return /^[1-9][0-9]{0,4}$/.test(port) && Number(port) <= 65_535 ? undefined : `port ${port} is not 1 to 65535`;
}

/** The schema's words for a registry (its pattern's words), said by the API too. */
export const REGISTRY_WORDS =
  "must be a registry as host[:port][/path], like registry.internal:5000 or ghcr.io/acme, without a scheme";

/** Why a registry is not host[:port][/path] with a real host name and a port from 1 to 65535. */
export function registryProblem(value: unknown): string | undefined {
  if (typeof value !== "string") return "must be a string";
  if (value.length > 255) return `must be at most 255 characters (has ${String(value.length)})`;
  const match = /^([A-Za-z0-9.-]+)(?::([0-9]{1,5}))?((?:\/[a-z0-9._-]+)*)$/.exec(value);
  if (!match) return REGISTRY_WORDS;
  const [, host = "", port] = match;
  return hostNameProblem(host) ?? (port === undefined ? undefined : portTextProblem(port));
}

/** The first character of a text outside printable ASCII, as U+XXXX. */
function firstNonAscii(text: string): string | undefined {
  const match = /[^\x21-\x7e]/u.exec(text);
  return match ? `U+${(match[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}` : undefined;
}

/**
 * Why a webhook URL is refused: it must be an http(s) URL that the WHATWG
 * parser (the one that sends it) reads exactly as written, so that the host
 * a reviewer reads is the host that is called. Backslashes, credentials,
 * port 0, non-ASCII characters (look-alikes of another host), numeric
 * spellings of addresses and anything else the parser rewrites are refused;
 * so is an address inside a network, unless `allowPrivate`.
 */
export function webhookUrlProblem(url: unknown, allowPrivate = false): string | undefined {
  if (typeof url !== "string") return "is required";
  if (url.length > 2048) return `must be at most 2048 characters (has ${String(url.length)})`;
  const strange = firstNonAscii(url);
  if (strange) {
    const why = /^U\+00[0-7]/.test(strange)
      ? "a space or a control character, which the URL parser drops or rewrites"
      : "a look-alike letter names another host; write an international name in its xn-- form";
    return `${quoted(url)} has ${strange}: a URL must be printable ASCII (${why})`;
  }
  const authority = /^https?:\/\/([^/?#]*)/i.exec(url)?.[1];
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    const port = authority === undefined ? undefined : /:([0-9]+)$/.exec(authority)?.[1];
    return (port && portTextProblem(port)) ?? `${quoted(url)} is not a URL`;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return `${quoted(url)} is not http or https`;
  if (url.includes("\\"))
    return `${quoted(url)} has a backslash, which the URL parser reads as '/': it goes to host ${parsed.hostname}`;
  if (parsed.username || parsed.password || authority?.includes("@"))
    return "must not carry credentials (user@host); sign with secretEnv";
  if (parsed.port === "0" || /:0+$/.test(authority ?? "")) return "port 0 is not 1 to 65535";
  const asWritten = parsed.href === url || (parsed.pathname === "/" && parsed.href === `${url}/`);
  if (!asWritten) return `${quoted(url)} is read as ${quoted(parsed.href)}; write it that way`;
  const inside = nonPublicHost(parsed.hostname);
  if (inside && !allowPrivate) return `${parsed.hostname} is ${inside}; ${ALLOW_PRIVATE_WORDS}`;
  return undefined;
}

/** The schema's words for a Docker host (its pattern's words), said by the API too. */
export const DOCKER_HOST_WORDS =
  "must be a Docker host URL like unix:///var/run/docker.sock, tcp://host:2376 or ssh://user@host";

const DOCKER_URL = /^(tcp|https?|ssh):\/\/(?:([^@/]*)@)?(\[[0-9A-Fa-f:.]+\]|[^/:@[\]]*)(?::([0-9]*))?\/?$/;
const SSH_USER = /^[A-Za-z0-9._][A-Za-z0-9._-]{0,31}$/;

/**
 * Why a Docker host is refused: unix:// with an absolute path, or tcp://,
 * http(s):// or ssh://[user@]host[:port] with nothing else, a real host name
 * or address, a port from 1 to 65535, and read by the URL parser as written.
 */
export function dockerHostProblem(value: unknown): string | undefined {
  const line = ruleProblem("line", value);
  if (line || typeof value !== "string") return line;
  if (value.startsWith("unix://")) {
    const path = value.slice("unix://".length);
    return path === "" ? undefined : ruleProblem("absolutePath", path);
  }
  const strange = firstNonAscii(value);
  if (strange) return `${quoted(value)} has ${strange}: a Docker host must be printable ASCII`;
  const match = DOCKER_URL.exec(value);
  if (!match) return DOCKER_HOST_WORDS;
  const [, scheme = "", user, host = "", port] = match;
  if (user !== undefined && (scheme !== "ssh" || !SSH_USER.test(user)))
    return scheme === "ssh"
      ? `user ${quoted(user)} is not a user name (letters, digits, '.', '_' and '-', not starting with '-')`
      : "must not carry credentials (user@host)";
  const bare = host.replace(/^\[|\]$/g, "");
  const hostProblem = host.startsWith("[")
    ? isIPv6(bare)
      ? undefined
      : `host ${host} is not an IPv6 address`
    : hostNameProblem(host);
  if (hostProblem) return hostProblem;
  if (port !== undefined) {
    const portProblem = portTextProblem(port);
    if (portProblem) return portProblem;
  }
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    return DOCKER_HOST_WORDS;
  }
  return parsed.hostname.toLowerCase() === host.toLowerCase()
    ? undefined
    : `${quoted(value)} is read as host ${parsed.hostname}; write it that way`;
}
