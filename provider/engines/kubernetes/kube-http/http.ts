import type { IncomingMessage } from "node:http";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { ConnectionConfig } from "./connection-config.ts";
import { agentPool } from "./agents.ts";
import { credentialsOf, type RequestIdentity } from "./credentials.ts";
import { KubeStatusError } from "./status-error.ts";

export type Query = Record<string, string | number | boolean | readonly string[] | undefined>;

export interface RequestOptions {
  readonly query?: Query;
  readonly body?: unknown;
  /** Default application/json for a body. */
  readonly contentType?: string;
}

/** What a WebSocket to the API server is opened with: the address, and the identity's TLS and header. */
export interface SocketTarget {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly tls: RequestIdentity["tls"];
  readonly agent: import("node:http").Agent;
  /** How long the server may take to answer the upgrade, or to finish a refusal: the request's idle bound. */
  readonly idleMs: number;
}

/** The API server of one kubeconfig context, spoken to over kept-alive connections. */
export interface KubeHttp {
  readonly config: ConnectionConfig;
  /** A request whose answer is JSON (or nothing); a refusal throws KubeStatusError. */
  json<T>(method: string, path: string, options?: RequestOptions): Promise<T>;
  /** A GET whose answer is read as it comes (a log that follows); a refusal throws KubeStatusError. */
  stream(path: string, query?: Query): Promise<IncomingMessage>;
  /** Where and how to open a WebSocket to `path`. */
  socketTarget(path: string, query?: Query): Promise<SocketTarget>;
  /** After a 401 on a socket: whether to try once more with a new credential. */
  refreshCredentials(): boolean;
}

/** Bounds on an answer: a server (one a kubeconfig from a pull request names) cannot hold or fill this process. */
export interface AnswerBounds {
  /** The largest body read whole; more is refused. */
  readonly maxBodyBytes: number;
  /** How long a request (not a followed log) may go without a byte from the server. */
  readonly idleMs: number;
  /**
   * How long an answer read whole may take from the request to its last
   * byte: a server that sends a byte now and then would otherwise never be
   * given up. Default 10 minutes.
   */
  readonly wholeMs?: number;
}

const DEFAULT_WHOLE_MS = 600_000;

/** A list of thousands of pods is tens of megabytes; an endless answer is refused long before memory runs out. */
const DEFAULT_BOUNDS: AnswerBounds = { maxBodyBytes: 256 * 1024 * 1024, idleMs: 120_000 };

const REDIRECT_REFUSED =
  "the API server answered with a redirect, which sandfleet does not follow: the kubeconfig's server must be the API server itself";

export function kubeHttp(config: ConnectionConfig, bounds: AnswerBounds = DEFAULT_BOUNDS): KubeHttp {
  const credentials = credentialsOf(config);
  const agents = agentPool(config.cluster.server);
  const server = new URL(config.cluster.server);
  const secure = server.protocol === "https:";
  // A server's own path (a proxy's prefix) comes before the API's.
  const base = server.pathname.replace(/\/+$/, "");

  const send = async (
    method: string,
    path: string,
    options: RequestOptions,
    retried: boolean,
    follows = false,
    whole = false,
  ): Promise<IncomingMessage> => {
    const identity = await credentials.identity();
    const body =
      options.body === undefined
        ? undefined
        : Buffer.from(typeof options.body === "string" ? options.body : JSON.stringify(options.body));
    const headers: Record<string, string> = { Accept: "application/json" };
    if (identity.authorization) headers.Authorization = identity.authorization;
    if (body) {
      headers["Content-Type"] = options.contentType ?? "application/json";
      headers["Content-Length"] = String(body.length);
    }
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      let answer: IncomingMessage | undefined;
      const request = (secure ? httpsRequest : httpRequest)(
        {
          protocol: server.protocol,
          hostname: server.hostname.replace(/^\[|\]$/g, ""),
          port: server.port || (secure ? 443 : 80),
          path: base + path + queryString(options.query),
          method,
          headers,
          agent: agents(identity.tls),
        },
        (response) => {
          answer = response;
          response.on("close", () => {
            clearTimeout(deadline);
          });
          resolve(response);
        },
      );
      const wholeMs = bounds.wholeMs ?? DEFAULT_WHOLE_MS;
      const deadline = whole
        ? setTimeout(() => {
            const error = Object.assign(
              new Error(`the API server's answer took more than ${String(wholeMs / 1000)} s, the most sandfleet waits`),
              { code: "ETIMEDOUT" },
            );
            (answer ?? request).destroy(error);
          }, wholeMs)
        : undefined;
      request.on("error", (error) => {
        clearTimeout(deadline);
        reject(error);
      });
      // A followed log is quiet as long as its pod is; anything else that stalls is given up.
      if (!follows)
        request.setTimeout(bounds.idleMs, () => {
          request.destroy(
            Object.assign(new Error(`the API server sent nothing for ${String(bounds.idleMs / 1000)} s`), {
              code: "ETIMEDOUT",
            }),
          );
        });
      request.end(body);
    });
    if (response.statusCode === 401 && !retried && credentials.refresh()) {
      response.resume();
      return send(method, path, options, true, follows, whole);
    }
    if ((response.statusCode ?? 0) >= 300 && (response.statusCode ?? 0) < 400) {
      // A redirect is never followed (the credential would go where the server says), nor read as an answer.
      response.resume();
      throw new KubeStatusError(method, path, response.statusCode ?? 0, JSON.stringify({ message: REDIRECT_REFUSED }));
    }
    if ((response.statusCode ?? 0) >= 400) {
      throw new KubeStatusError(method, path, response.statusCode ?? 0, await readText(response, bounds, path));
    }
    return response;
  };

  return {
    config,
    async json<T>(method: string, path: string, options: RequestOptions = {}) {
      const text = await readText(await send(method, path, options, false, false, true), bounds, path);
      return (text === "" ? undefined : JSON.parse(text)) as T;
    },
    stream: (path, query) => send("GET", path, query ? { query } : {}, false, query?.follow === true),
    async socketTarget(path, query) {
      const identity = await credentials.identity();
      const url = new URL(config.cluster.server);
      url.protocol = secure ? "wss:" : "ws:";
      return {
        url: `${url.origin}${base}${path}${queryString(query)}`,
        headers: authorizationHeader(identity),
        tls: identity.tls,
        agent: agents(identity.tls),
        idleMs: bounds.idleMs,
      };
    },
    refreshCredentials: () => credentials.refresh(),
  };
}

function authorizationHeader(identity: RequestIdentity): Record<string, string> {
  return identity.authorization ? { Authorization: identity.authorization } : {};
}

/** `?a=1&b=x&b=y`: a list repeats its key, as the API reads `command`. */
function queryString(query: Query | undefined): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? (value as readonly string[]) : [value]) params.append(key, String(one));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** An answer's body, whole, up to the bound. */
function readText(response: IncomingMessage, bounds: AnswerBounds, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    response.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= bounds.maxBodyBytes) chunks.push(chunk);
      else {
        response.destroy();
        reject(
          new Error(
            `the API server's answer to ${path} is larger than ${String(bounds.maxBodyBytes)} bytes, the most sandfleet reads`,
          ),
        );
      }
    });
    response.on("end", () => {
      resolve(Buffer.concat(chunks).toString("utf8"));
    });
    response.on("error", reject);
  });
}
