/**
 * The gateway's cookies and a sandbox's. The gateway keeps one cookie of its
 * own per origin (the connect token, host-only), and every name that starts
 * `sandfleet_` for itself: a sandbox's app can neither set such a cookie nor
 * read one, and cannot give a cookie of its own a scope wider than its host.
 */

/** The token cookie's name: over TLS with the `__Host-` prefix, which a browser takes only host-only and Secure. */
export function tokenCookieName(tls: boolean): string {
  return tls ? "__Host-sandfleet_connect" : "sandfleet_connect";
}

/** Whether a cookie name is the gateway's: `sandfleet_*` in any case, behind any `__Host-`/`__Secure-` prefixes. */
export function isReservedCookieName(name: string): boolean {
  let bare = name.trim().toLowerCase();
  for (let before = ""; before !== bare;) {
    before = bare;
    bare = bare.replace(/^__(host|secure)-/, "").trim();
  }
  return bare.startsWith("sandfleet_");
}

/**
 * The name a browser would send a cookie under, from `name=value` (of a
 * Cookie or Set-Cookie header). A cookie without a name is sent as its bare
 * value, so `=sandfleet_connect=x` would reach a server as `sandfleet_connect=x`:
 * leading `=` and blanks are skipped for that reason.
 */
function sentName(pair: string): string {
  const bare = pair.replace(/^[\s=]+/, "");
  const eq = bare.indexOf("=");
  return eq < 0 ? bare : bare.slice(0, eq);
}

/** A sandbox's Set-Cookie headers as the browser gets them: none of the gateway's names, no `Domain`. */
export function sandboxSetCookies(values: readonly string[]): string[] {
  return values.flatMap((value) => {
    const [pair = "", ...attributes] = value.split(";");
    if (isReservedCookieName(sentName(pair)) || isReservedCookieName(pair.split("=")[0] ?? "")) return [];
    // Without Domain the cookie is host-only: it reaches this sandbox port's origin and no other.
    const kept = attributes.filter((a) => (a.split("=")[0] ?? "").trim().toLowerCase() !== "domain");
    return [[pair, ...kept].join(";")];
  });
}

/** The Cookie header the sandbox gets: the browser's, without any cookie under a gateway's name. */
export function sandboxCookieHeader(header: string | undefined): string | undefined {
  const kept = (header ?? "")
    .split(";")
    .map((c) => c.trim())
    .filter((c) => c && !isReservedCookieName(sentName(c)));
  return kept.length > 0 ? kept.join("; ") : undefined;
}

/** The values of the token cookie in a Cookie header: a few at most, in the browser's order. */
export function tokenCookies(header: string | undefined, name: string): string[] {
  const values: string[] = [];
  for (const cookie of (header ?? "").split(";")) {
    const eq = cookie.indexOf("=");
    if (eq > 0 && cookie.slice(0, eq).trim() === name) {
      const value = cookie.slice(eq + 1).trim();
      if (value && values.length < 4) values.push(value);
    }
  }
  return values;
}
