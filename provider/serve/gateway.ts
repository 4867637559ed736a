import type { ClientRequestArgs, IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { Sandfleet } from "../client/sandfleet.ts";
import { InvalidArgumentError } from "../errors.ts";
import { connectOrigin, gatewayBase, originLabel, type TokenVerdict } from "../runtime/sandboxes/connect-tokens.ts";
import { OpenConnections } from "./gateway-connections.ts";
import { tokenCookieName } from "./gateway-cookies.ts";
import { answerHeaders, forwardedHeaders, HOP_HEADERS, rawHead, refuse, refuseRaw } from "./gateway-forwarding.ts";
import {
  credentials,
  foreignRequest,
  hostLabel,
  isNavigation,
  queryToken,
  withoutToken,
  type Admitted,
} from "./gateway-requests.ts";
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
interface Refusal {
  status: number;
  reason: string;
}
interface Reached {
  createConnection: NonNullable<ClientRequestArgs["createConnection"]>;
  release: () => void;
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

  /**
   * How to reach the token's one sandbox port (a stream the engine opens to it), or why not; the
   * client's connection is held only while its token is valid.
   */
  const reach = async (admitted: Admitted, socket: Socket): Promise<Reached | Refusal> => {
    const target = await sandfleet.connectTarget(admitted.verdict.sandboxId, admitted.verdict.port);
    if (!target) return { status: 502, reason: "the sandbox has ended" };
    return {
      // The request's connection: the engine's stream to that port, and nothing a request could name.
      createConnection: (_options, made) => {
        target.open().then(
          (stream) => {
            made(null, stream);
          },
          (error: unknown) => {
            made(error instanceof Error ? error : new Error(String(error)), undefined as unknown as Duplex);
          },
        );
        return undefined;
      },
      release: connections.hold(admitted.token, admitted.verdict.expiresAtMs, socket),
    };
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
        createConnection: reached.createConnection,
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
    // A client gone (or cut) mid-answer ends the sandbox's side too; a finished one idles under its token.
    response.on("close", () => {
      reached.release();
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
        createConnection: reached.createConnection,
        method: request.method,
        path: withoutToken(target),
        headers: forwardedHeaders(request.headers, true, secure()),
      });
      upstream.on("upgrade", (answer: IncomingMessage, socket: Duplex, upstreamHead: Buffer) => {
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
