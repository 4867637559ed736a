import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Sandfleet } from "../client/sandfleet.ts";
import { TOKEN_PARAM, type TokenVerdict } from "../runtime/connect-tokens.ts";
import { listen, parseListenAddress } from "./listen.ts";

export interface GatewayOptions {
  /** `host:port`; default 127.0.0.1:8088. */
  address?: string;
  /** PEM certificate and key: serve HTTPS. */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

const COOKIE = "sandfleet_connect";
/** How long a verdict on a token is reused: a revocation takes effect within this. */
const VERDICT_TTL_MS = 1000;

/**
 * The gateway behind connect tokens: it admits a request only with a valid,
 * unexpired token (in the URL, a bearer header, or the cookie it sets from
 * the URL), and forwards it, WebSockets included, to the one port of the one
 * sandbox that token names, on this host, and nowhere else. Every request is
 * decided by the token alone, never by a Host header or a path.
 */
export async function serveGateway(
  sandfleet: Sandfleet,
  options: GatewayOptions = {},
): Promise<{ url: string; close: () => Promise<void> }> {
  const { host, port } = parseListenAddress(options.address ?? "127.0.0.1:8088");
  const http = await import("node:http");
  const net = await import("node:net");
  const verdicts = new Map<string, { verdict: TokenVerdict; atMs: number }>();

  const verify = async (token: string): Promise<TokenVerdict> => {
    const known = verdicts.get(token);
    if (known && Date.now() - known.atMs < VERDICT_TTL_MS) return known.verdict;
    const verdict = await sandfleet.verifyConnectToken(token);
    if (verdicts.size > 10_000) verdicts.clear();
    verdicts.set(token, { verdict, atMs: Date.now() });
    return verdict;
  };

  /** The sandbox port on this host that a request may reach, or the status and reason to refuse it with. */
  const admit = async (request: IncomingMessage): Promise<{ port: number } | { status: number; reason: string }> => {
    const token = tokenOf(request);
    if (!token) return { status: 401, reason: "a connect token is needed" };
    const verdict = await verify(token);
    if ("refused" in verdict) return { status: 403, reason: verdict.refused };
    const target = await sandfleet.connectTarget(verdict.sandboxId, verdict.port);
    if (!target) return { status: 502, reason: "the sandbox has ended" };
    return target;
  };

  const handler = (request: IncomingMessage, response: ServerResponse) => {
    void (async () => {
      const url = new URL(request.url ?? "/", "http://gateway");
      const inUrl = url.searchParams.get(TOKEN_PARAM);
      if (inUrl !== null && isNavigation(request)) {
        // A browser's: moved into a cookie, so that the token leaves the address bar, history and referrers.
        url.searchParams.delete(TOKEN_PARAM);
        const verdict = await verify(inUrl);
        if ("refused" in verdict) {
          refuse(response, 403, verdict.refused);
          return;
        }
        response
          .writeHead(303, {
            location: `${url.pathname}${url.search}`,
            "set-cookie": `${COOKIE}=${inUrl}; HttpOnly; SameSite=Lax; Path=/${options.tls ? "; Secure" : ""}`,
            "referrer-policy": "no-referrer",
          })
          .end();
        return;
      }
      const admitted = await admit(request);
      if ("status" in admitted) {
        refuse(response, admitted.status, admitted.reason);
        return;
      }
      const upstream = http.request(
        {
          host: "127.0.0.1",
          port: admitted.port,
          method: request.method,
          path: withoutToken(request.url ?? "/"),
          headers: forwardedHeaders(request.headers),
        },
        (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
        },
      );
      upstream.on("error", (error) => {
        if (!response.headersSent) refuse(response, 502, `the sandbox did not answer: ${error.message}`);
        else response.destroy();
      });
      request.pipe(upstream);
    })().catch((error: unknown) => {
      if (!response.headersSent) refuse(response, 500, error instanceof Error ? error.message : String(error));
    });
  };

  const server = options.tls
    ? (await import("node:https")).createServer(options.tls, handler)
    : http.createServer(handler);

  // A WebSocket: the same admission, then the upgrade request and both directions passed through as bytes.
  server.on("upgrade", (request: IncomingMessage, client: Socket, head: Buffer) => {
    void (async () => {
      const admitted = await admit(request);
      if ("status" in admitted) {
        client.end(`HTTP/1.1 ${String(admitted.status)} Refused\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
        return;
      }
      const upstream = net.connect(admitted.port, "127.0.0.1", () => {
        const headers = forwardedHeaders(request.headers, true);
        const lines = Object.entries(headers).flatMap(([k, v]) =>
          (Array.isArray(v) ? v : [v]).filter((x) => x !== undefined).map((x) => `${k}: ${x}`),
        );
        upstream.write(
          `${request.method ?? "GET"} ${withoutToken(request.url ?? "/")} HTTP/1.1\r\n${lines.join("\r\n")}\r\n\r\n`,
        );
        if (head.length > 0) upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      const close = () => {
        upstream.destroy();
        client.destroy();
      };
      upstream.on("error", close);
      client.on("error", close);
    })().catch(() => client.destroy());
  });

  const served = await listen(server, { host, port }, options.tls ? "https" : "http");
  return { url: served.base, close: served.close };
}

/** A browser opening a page (not a script's request): it gets the cookie and a clean address. */
function isNavigation(request: IncomingMessage): boolean {
  const mode = request.headers["sec-fetch-mode"];
  if (mode !== undefined) return mode === "navigate";
  return request.method === "GET" && (request.headers.accept ?? "").includes("text/html");
}

/** The request's path and query as the sandbox gets them: without the gateway's token. */
function withoutToken(path: string): string {
  const url = new URL(path, "http://gateway");
  url.searchParams.delete(TOKEN_PARAM);
  return `${url.pathname}${url.search}`;
}

function tokenOf(request: IncomingMessage): string | undefined {
  const url = new URL(request.url ?? "/", "http://gateway");
  const inUrl = url.searchParams.get(TOKEN_PARAM);
  if (inUrl) return inUrl;
  const bearer = /^Bearer (\S+)$/.exec(request.headers.authorization ?? "")?.[1];
  if (bearer?.startsWith("sfc_")) return bearer;
  for (const cookie of (request.headers.cookie ?? "").split(";")) {
    const [name, value] = cookie.trim().split("=");
    if (name === COOKIE && value) return value;
  }
  return undefined;
}

/** What the sandbox is sent: the request's headers without the gateway's own credentials. */
function forwardedHeaders(headers: IncomingHttpHeaders, upgrade = false): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = { ...headers };
  if (out.authorization?.startsWith("Bearer sfc_")) delete out.authorization;
  const cookies = (out.cookie ?? "")
    .split(";")
    .map((c) => c.trim())
    .filter((c) => c && !c.startsWith(`${COOKIE}=`));
  if (cookies.length > 0) out.cookie = cookies.join("; ");
  else delete out.cookie;
  if (!upgrade) delete out.connection;
  out["x-forwarded-proto"] = "http";
  return out;
}

function refuse(response: ServerResponse, status: number, reason: string): void {
  response.writeHead(status, { "content-type": "text/plain; charset=utf-8" }).end(`sandfleet gateway: ${reason}\n`);
}
