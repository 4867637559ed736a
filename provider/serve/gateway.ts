import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Sandfleet } from "../client/sandfleet.ts";
import { InvalidArgumentError } from "../errors.ts";
import { connectOrigin, gatewayBase, originLabel, TOKEN_PARAM, type TokenVerdict } from "../runtime/connect-tokens.ts";
import { OpenConnections } from "./gateway-connections.ts";
import { sandboxCookieHeader, sandboxSetCookies, tokenCookieName, tokenCookies } from "./gateway-cookies.ts";
import { listen, parseListenAddress } from "./listen.ts";

export interface GatewayOptions {
  /** `host:port`; default 127.0.0.1:8088. */
  address?: string;
  /** PEM certificate and key: serve HTTPS. The certificate names `*.` the gateway's host name. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /**
   * The URL browsers reach the gateway at, like `https://sandboxes.example.com:8443`;
   * each sandbox port is served on a host name of its own under its name
   * (`<label>.sandboxes.example.com`, wildcard DNS). Default, when bound to
   * loopback: `http(s)://localhost:<port>`. Needed when bound elsewhere.
   */
  url?: string;
}

/** How long a verdict on a token is reused for new requests: a revocation refuses them within this. */
const VERDICT_TTL_MS = 500;
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
/** Headers of one hop, not passed on either way (an upgrade keeps `connection` and `upgrade`). */
const HOP_HEADERS = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"];

type Valid = Exclude<TokenVerdict, { refused: string }>;
interface Admitted {
  token: string;
  verdict: Valid;
  /** The sandbox port's own origin, like `http://3f2a9c1b2d4e5f60-8000.localhost:8088`. */
  origin: string;
  /** The credential came as the cookie, which a browser adds by itself, not from the request's author. */
  viaCookie: boolean;
}
interface Refusal {
  status: number;
  reason: string;
}

/**
 * The gateway behind connect tokens. Each sandbox port has an origin of its
 * own, a host name under the gateway's: a request is admitted only with a
 * valid, unexpired token for the port its Host names (in the URL, a bearer
 * header, or the host-only cookie set from the URL), and forwarded, WebSockets
 * included, to that one port on this host and nowhere else. Pages of other
 * origins cannot act through it, and connections end with their token.
 */
export async function serveGateway(
  sandfleet: Sandfleet,
  options: GatewayOptions = {},
): Promise<{ url: string; close: () => Promise<void> }> {
  const { host, port } = parseListenAddress(options.address ?? "127.0.0.1:8088");
  const scheme = options.tls ? "https" : "http";
  if (options.url === undefined && !LOOPBACK.test(host))
    throw new InvalidArgumentError(
      `a gateway bound to ${host} needs the URL browsers reach it at (like https://sandboxes.example.com:8443), ` +
        "whose name has wildcard DNS: each sandbox port is served on a host name of its own under it",
    );
  // Checked before listening; the default waits for the port the system picks.
  let base = options.url === undefined ? undefined : gatewayBase(options.url);
  if (options.tls && base?.protocol === "http:")
    throw new InvalidArgumentError(`gateway URL ${options.url ?? ""} is http, but the gateway serves TLS: give https`);
  const http = await import("node:http");
  const verdicts = new Map<string, { verdict: TokenVerdict; atMs: number }>();
  const upgraded = new Set<Socket>();

  const remember = (token: string, verdict: TokenVerdict) => {
    if (verdicts.size > 10_000) verdicts.clear();
    verdicts.set(token, { verdict, atMs: Date.now() });
  };
  const verify = async (token: string): Promise<TokenVerdict> => {
    const known = verdicts.get(token);
    const now = Date.now();
    if (known && now - known.atMs < VERDICT_TTL_MS) {
      const { verdict } = known;
      return "refused" in verdict || now < verdict.expiresAtMs ? verdict : { refused: "expired token" };
    }
    const verdict = await sandfleet.verifyConnectToken(token);
    remember(token, verdict);
    return verdict;
  };
  const connections = new OpenConnections(async (tokens) => {
    const fresh = await sandfleet.verifyConnectTokens(tokens);
    for (const [token, verdict] of fresh) remember(token, verdict);
    return new Set(tokens.filter((t) => "refused" in (fresh.get(t) ?? { refused: "" })));
  });

  const publicBase = (): URL => {
    if (!base) throw new Error("the gateway is not listening yet");
    return base;
  };
  const secure = () => publicBase().protocol === "https:";

  /** The token a request carries and the sandbox port it may reach, or why it is refused. */
  const admit = async (request: IncomingMessage): Promise<Admitted | Refusal> => {
    const label = hostLabel(request.headers.host, publicBase());
    if (label === undefined)
      return {
        status: 421,
        reason: `sandbox ports are served on their own host names under ${publicBase().host}: open a URL that \`sandfleet url\` printed`,
      };
    const { tokens, viaCookie } = credentials(request, tokenCookieName(secure()));
    if (tokens.length === 0) return { status: 401, reason: "a connect token is needed" };
    let refusal: Refusal | undefined;
    // Several cookies are possible (one set by a sibling host, say): only one for this host's own port counts.
    for (const token of tokens) {
      const verdict = await verify(token);
      if ("refused" in verdict) refusal ??= { status: 403, reason: verdict.refused };
      else if (originLabel(verdict.sandboxId, verdict.port) !== label)
        refusal ??= { status: 421, reason: "this token opens another origin: use the URL it came with" };
      else {
        const origin = connectOrigin(publicBase(), verdict.sandboxId, verdict.port).origin;
        return { token, verdict, origin, viaCookie };
      }
    }
    return refusal ?? { status: 401, reason: "a connect token is needed" };
  };

  /** The host port to forward to, or why not; the client's connection is held only while its token is valid. */
  const reach = async (admitted: Admitted, socket: Socket): Promise<{ port: number } | Refusal> => {
    const target = await sandfleet.connectTarget(admitted.verdict.sandboxId, admitted.verdict.port);
    if (!target) return { status: 502, reason: "the sandbox has ended" };
    connections.hold(admitted.token, admitted.verdict.expiresAtMs, socket);
    return target;
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const target = request.url ?? "";
    if (!target.startsWith("/")) {
      refuse(response, 400, "the request target must be a path");
      return;
    }
    const admitted = await admit(request);
    if ("status" in admitted) {
      refuse(response, admitted.status, admitted.reason);
      return;
    }
    if (queryToken(target) !== undefined && isNavigation(request)) {
      // A browser's: moved into a cookie of this origin alone, so that the token leaves the address bar, history and referrers.
      const maxAge = Math.max(1, Math.floor((admitted.verdict.expiresAtMs - Date.now()) / 1000));
      response
        .writeHead(303, {
          // Absolute, on this origin: a path like `//elsewhere` stays a path here.
          location: `${admitted.origin}${withoutToken(target)}`,
          "set-cookie": `${tokenCookieName(secure())}=${admitted.token}; HttpOnly; SameSite=Lax; Path=/; Max-Age=${String(maxAge)}${secure() ? "; Secure" : ""}`,
          "referrer-policy": "no-referrer",
          "cache-control": "no-store",
        })
        .end();
      return;
    }
    const foreign = foreignRequest(request, admitted, false);
    if (foreign) {
      refuse(response, 403, foreign);
      return;
    }
    const reached = await reach(admitted, request.socket);
    if ("status" in reached) {
      refuse(response, reached.status, reached.reason);
      return;
    }
    const upstream = http.request(
      {
        host: "127.0.0.1",
        port: reached.port,
        method: request.method,
        path: withoutToken(target),
        headers: forwardedHeaders(request.headers, false, secure()),
      },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answerHeaders(answer.headers));
        answer.pipe(response);
      },
    );
    upstream.on("error", (error) => {
      if (!response.headersSent) refuse(response, 502, `the sandbox did not answer: ${error.message}`);
      else response.destroy();
    });
    // A client gone (or cut) mid-answer ends the sandbox's side too.
    response.on("close", () => {
      if (!response.writableFinished) upstream.destroy();
    });
    request.pipe(upstream);
  };

  const server = options.tls
    ? (await import("node:https")).createServer(options.tls, (request, response) => {
        handleSafely(handle, request, response);
      })
    : http.createServer((request, response) => {
        handleSafely(handle, request, response);
      });

  // A WebSocket: the same admission and origin check, then the sandbox's answer (its cookies filtered) and both directions as bytes.
  server.on("upgrade", (request: IncomingMessage, client: Socket, head: Buffer) => {
    upgraded.add(client);
    client.on("close", () => upgraded.delete(client));
    client.on("error", () => client.destroy());
    void (async () => {
      const target = request.url ?? "";
      if (!target.startsWith("/")) {
        refuseRaw(client, 400, "the request target must be a path");
        return;
      }
      const admitted = await admit(request);
      if ("status" in admitted) {
        refuseRaw(client, admitted.status, admitted.reason);
        return;
      }
      const foreign = foreignRequest(request, admitted, true);
      if (foreign) {
        refuseRaw(client, 403, foreign);
        return;
      }
      const reached = await reach(admitted, client);
      if ("status" in reached) {
        refuseRaw(client, reached.status, reached.reason);
        return;
      }
      const upstream = http.request({
        host: "127.0.0.1",
        port: reached.port,
        method: request.method,
        path: withoutToken(target),
        headers: forwardedHeaders(request.headers, true, secure()),
      });
      upstream.on("upgrade", (answer: IncomingMessage, socket: Socket, upstreamHead: Buffer) => {
        client.write(rawHead(answer, []));
        if (upstreamHead.length > 0) client.write(upstreamHead);
        if (head.length > 0) socket.write(head);
        const close = () => {
          socket.destroy();
          client.destroy();
        };
        socket.on("error", close);
        socket.on("close", close);
        client.on("close", close);
        socket.pipe(client);
        client.pipe(socket);
      });
      upstream.on("response", (answer: IncomingMessage) => {
        // Not upgraded: the sandbox's answer, delimited by the connection's end.
        client.write(rawHead(answer, ["content-length", ...HOP_HEADERS], "connection: close"));
        answer.pipe(client);
      });
      upstream.on("error", (error) => {
        refuseRaw(client, 502, `the sandbox did not answer: ${error.message}`);
      });
      upstream.end();
    })().catch(() => client.destroy());
  });

  const served = await listen(server, { host, port }, scheme);
  base ??= gatewayBase(`${scheme}://localhost:${new URL(served.base).port}`);
  return {
    url: base.origin,
    close: async () => {
      connections.close();
      for (const socket of upgraded) socket.destroy();
      await served.close();
    },
  };
}

function handleSafely(
  handle: (request: IncomingMessage, response: ServerResponse) => Promise<void>,
  request: IncomingMessage,
  response: ServerResponse,
): void {
  handle(request, response).catch((error: unknown) => {
    if (!response.headersSent) refuse(response, 500, error instanceof Error ? error.message : String(error));
    else response.destroy();
  });
}

/** The label of the sandbox port a Host header names under the gateway's host name and port, if it does. */
function hostLabel(header: string | undefined, base: URL): string | undefined {
  const match = /^([0-9a-f]{16}-\d{1,5})\.([a-z0-9.-]+?)(?::(\d{1,5}))?$/.exec((header ?? "").toLowerCase());
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
function foreignRequest(request: IncomingMessage, admitted: Admitted, upgrade: boolean): string | undefined {
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
function credentials(request: IncomingMessage, cookieName: string): { tokens: string[]; viaCookie: boolean } {
  const inUrl = queryToken(request.url ?? "");
  if (inUrl) return { tokens: [inUrl], viaCookie: false };
  const bearer = /^bearer\s+(sfc_\S+)$/i.exec(request.headers.authorization ?? "")?.[1];
  if (bearer) return { tokens: [bearer], viaCookie: false };
  return { tokens: tokenCookies(request.headers.cookie, cookieName), viaCookie: true };
}

/** A browser opening a page (not a script's request): it gets the cookie and a clean address. */
function isNavigation(request: IncomingMessage): boolean {
  if (request.method !== "GET") return false;
  const mode = request.headers["sec-fetch-mode"];
  if (mode !== undefined) return mode === "navigate";
  return (request.headers.accept ?? "").includes("text/html");
}

function queryToken(target: string): string | undefined {
  const query = target.indexOf("?");
  if (query < 0) return undefined;
  return new URLSearchParams(target.slice(query + 1)).get(TOKEN_PARAM) ?? undefined;
}

/** The request's path and query as the sandbox gets them: as sent, less the gateway's token. */
function withoutToken(target: string): string {
  const query = target.indexOf("?");
  if (query < 0) return target;
  const kept = target
    .slice(query + 1)
    .split("&")
    .filter((part) => [...new URLSearchParams(part).keys()][0] !== TOKEN_PARAM);
  return kept.length > 0 ? `${target.slice(0, query)}?${kept.join("&")}` : target.slice(0, query);
}

/** What the sandbox is sent: the request's headers without the gateway's own credentials. */
function forwardedHeaders(headers: IncomingHttpHeaders, upgrade: boolean, secure: boolean): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = upgrade ? { ...headers } : withoutHopHeaders(headers);
  if (/^bearer\s+sfc_/i.test(out.authorization ?? "")) delete out.authorization;
  const cookie = sandboxCookieHeader(out.cookie);
  if (cookie) out.cookie = cookie;
  else delete out.cookie;
  out["x-forwarded-proto"] = secure ? "https" : "http";
  return out;
}

function withoutHopHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_HEADERS.includes(name)));
}

/** What the browser is sent of the sandbox's answer: one hop's headers dropped, its cookies filtered. */
function answerHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = withoutHopHeaders(headers);
  const cookies = sandboxSetCookies(headers["set-cookie"] ?? []);
  if (cookies.length > 0) out["set-cookie"] = cookies;
  else delete out["set-cookie"];
  return out;
}

/** A sandbox's status line and headers as bytes for a raw socket, less `drop`, its cookies filtered. */
function rawHead(answer: IncomingMessage, drop: string[], extra?: string): string {
  const lines = [`HTTP/1.1 ${String(answer.statusCode ?? 502)} ${answer.statusMessage ?? ""}`];
  const raw = answer.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] ?? "";
    const lower = name.toLowerCase();
    if (drop.includes(lower)) continue;
    if (lower === "set-cookie") lines.push(...sandboxSetCookies([raw[i + 1] ?? ""]).map((c) => `${name}: ${c}`));
    else lines.push(`${name}: ${raw[i + 1] ?? ""}`);
  }
  if (extra) lines.push(extra);
  return `${lines.join("\r\n")}\r\n\r\n`;
}

function refuse(response: ServerResponse, status: number, reason: string): void {
  response
    .writeHead(status, {
      "content-type": "text/plain; charset=utf-8",
      "x-content-type-options": "nosniff",
      "cache-control": "no-store",
    })
    .end(`sandfleet gateway: ${reason}\n`);
}

function refuseRaw(socket: Socket, status: number, reason: string): void {
  const body = `sandfleet gateway: ${reason}\n`;
  socket.end(
    `HTTP/1.1 ${String(status)} Refused\r\ncontent-type: text/plain; charset=utf-8\r\nx-content-type-options: nosniff\r\n` +
      "connection: close\r\n" +
      `content-length: ${String(Buffer.byteLength(body))}\r\n\r\n${body}`,
  );
}
