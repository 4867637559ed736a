import type { IncomingHttpHeaders } from "node:http";

export const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/**
 * Whether the Host a request names is this dashboard's own: a site whose name
 * was rebound to 127.0.0.1 sends its own name, and is refused.
 */
export function hostAllowed(header: string | undefined, host: string, port: number): boolean {
  if (!header) return false;
  const named = header.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  const portOk = header.endsWith(`:${String(port)}`);
  if (LOOPBACK.test(host)) return portOk && LOOPBACK.test(named);
  // Bound to every address: any name reaches it, and the token guards it.
  if (host === "0.0.0.0" || host === "::") return true;
  return portOk && named === host;
}

/**
 * Why a request to the API (its JSON, its event streams, its actions) is not
 * from the dashboard's own page, or undefined when it is. A browser says where
 * a request comes from: `Origin` on every cross-origin read (an EventSource,
 * a fetch) and every POST, `Sec-Fetch-Site` on all of them; a page elsewhere
 * can neither read the answers nor make the server stream for it. Scripts
 * and curl send neither, and are judged by the Host (and the token).
 */
export function foreignRequest(headers: IncomingHttpHeaders): string | undefined {
  const origin = headers.origin;
  if (origin !== undefined && origin !== `http://${headers.host ?? ""}`)
    return `requests from ${origin} are refused: the dashboard answers only its own page`;
  const site = headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin" && site !== "none")
    return `${site} requests are refused: the dashboard answers only its own page`;
  return undefined;
}
