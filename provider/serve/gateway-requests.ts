import type { IncomingMessage } from "node:http";
import { TOKEN_PARAM, type TokenVerdict } from "../runtime/sandboxes/connect-tokens.ts";
import { tokenCookies } from "./gateway-cookies.ts";

// What the gateway reads of a browser's request: the host it names, the token it offers, where it comes from.

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** A request the gateway admitted: its token, what the token opens, and how it came. */
export interface Admitted {
  token: string;
  verdict: Exclude<TokenVerdict, { refused: string }>;
  /** The sandbox port's own origin, like `http://3f2a9c1b2d4e5f60-8000.localhost:8088`. */
  origin: string;
  /** The credential came as the cookie, which a browser adds by itself, not from the request's author. */
  viaCookie: boolean;
}

/**
 * The first label of a Host header that names one host right under the
 * gateway's name and port, if it does (the token must then be that label's).
 */
export function hostLabel(header: string | undefined, base: URL): string | undefined {
  const match = /^([a-z0-9-]+)\.([a-z0-9.-]+?)(?::(\d{1,5}))?$/.exec((header ?? "").toLowerCase());
  if (!match || match[2] !== base.hostname) return undefined;
  const defaultPort = base.protocol === "https:" ? "443" : "80";
  const port = match[3] === undefined || match[3] === defaultPort ? "" : match[3];
  return port === base.port ? match[1] : undefined;
}

/**
 * Why a request a browser page of another origin made is refused, if it is:
 * a WebSocket or a state-changing request from another `Origin`, and
 * anything but a top-level navigation that rides on the cookie from a page
 * of another origin (which could otherwise read or drive this one).
 */
export function foreignRequest(request: IncomingMessage, admitted: Admitted, upgrade: boolean): string | undefined {
  const origin = request.headers.origin;
  const method = request.method ?? "GET";
  const changes = upgrade || !SAFE_METHODS.has(method);
  if (origin !== undefined && origin !== admitted.origin && (changes || admitted.viaCookie))
    return `a request from ${origin} is refused: only pages of ${admitted.origin} may make it`;
  const site = request.headers["sec-fetch-site"];
  const navigation = request.headers["sec-fetch-mode"] === "navigate" && (method === "GET" || method === "HEAD");
  if (admitted.viaCookie && (site === "cross-site" || site === "same-site") && !navigation)
    return `a page of another origin cannot use the cookie of ${admitted.origin}`;
  return undefined;
}

/** The tokens a request offers: the URL's or the bearer header's, else the cookie's (maybe several). */
export function credentials(request: IncomingMessage, cookieName: string): { tokens: string[]; viaCookie: boolean } {
  const inUrl = queryToken(request.url ?? "");
  if (inUrl) return { tokens: [inUrl], viaCookie: false };
  const bearer = /^bearer\s+(sfc_\S+)$/i.exec(request.headers.authorization ?? "")?.[1];
  if (bearer) return { tokens: [bearer], viaCookie: false };
  return { tokens: tokenCookies(request.headers.cookie, cookieName), viaCookie: true };
}

/** A browser opening a page (not a script's request): it gets the cookie and a clean address. */
export function isNavigation(request: IncomingMessage): boolean {
  if (request.method !== "GET") return false;
  const mode = request.headers["sec-fetch-mode"];
  if (mode !== undefined) return mode === "navigate";
  return (request.headers.accept ?? "").includes("text/html");
}

export function queryToken(target: string): string | undefined {
  const query = target.indexOf("?");
  if (query < 0) return undefined;
  return new URLSearchParams(target.slice(query + 1)).get(TOKEN_PARAM) ?? undefined;
}

/** The request's path and query as the sandbox gets them: as sent, less the gateway's token. */
export function withoutToken(target: string): string {
  const query = target.indexOf("?");
  if (query < 0) return target;
  const kept = target
    .slice(query + 1)
    .split("&")
    .filter((part) => [...new URLSearchParams(part).keys()][0] !== TOKEN_PARAM);
  return kept.length > 0 ? `${target.slice(0, query)}?${kept.join("&")}` : target.slice(0, query);
}
