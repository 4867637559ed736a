/**
 * The Docker Engine API over HTTP, as the engine serves it on its socket.
 *
 * sandfleet speaks the API itself rather than through a client library: the
 * CLI starts once per command, and loading a full client (with its SSH and
 * gRPC stacks) cost more than the engine's own work for an exec. Paths are
 * unversioned, so the engine answers in its own API version.
 */
import { spawn } from "node:child_process";
import type { IncomingMessage, RequestOptions } from "node:http";
import { Duplex, type Readable } from "node:stream";
import type { EngineAddress } from "./connect.ts";

// Taken as plain modules: importing node:http as an ES module costs ~50 ms
// more at startup (its namespace is built whole), which a CLI run feels.
const http = process.getBuiltinModule("node:http");

/** The engine answered with an error status; `message` is the engine's own. */
export class EngineHttpError extends Error {
  override readonly name = "EngineHttpError";
  readonly statusCode: number;
  constructor(statusCode: number, message: string) {
    super(message);
    this.statusCode = statusCode;
  }
}

export type QueryValue = string | number | boolean | readonly string[] | undefined;

export interface RequestParams {
  query?: Readonly<Record<string, QueryValue>>;
  /** Sent as JSON. */
  body?: unknown;
  /** Streamed as the request body (a tar archive). */
  upload?: Readable;
}

export interface EngineHttp {
  /** The response body parsed as JSON; undefined when the engine sends none, or text (a ping's OK). */
  json<T>(method: string, path: string, params?: RequestParams): Promise<T>;
  /** The response body as a stream, for logs, events, exports and progress. */
  stream(method: string, path: string, params?: RequestParams): Promise<IncomingMessage>;
  /** A connection the engine has taken over (an exec's stdin and output). */
  upgrade(path: string, body: unknown): Promise<Duplex>;
}

export function engineHttp(address: EngineAddress): EngineHttp {
  const transport = transportFor(address);

  const send = (method: string, path: string, params: RequestParams, headers: Record<string, string> = {}) =>
    new Promise<{ response?: IncomingMessage; upgraded?: Duplex; reused: boolean }>((resolve, reject) => {
      const body = params.body === undefined ? undefined : Buffer.from(JSON.stringify(params.body));
      const req = transport.request({
        ...transport.options,
        method,
        path: path + queryString(params.query),
        // Named, not derived from the address: deriving it costs a CLI run milliseconds it feels.
        setHost: false,
        headers: {
          host: "docker",
          ...(body ? { "content-type": "application/json", "content-length": String(body.length) } : {}),
          ...(params.upload ? { "content-type": "application/x-tar" } : {}),
          ...headers,
        },
      });
      req.once("error", reject);
      req.once("response", (response) => {
        resolve({ response, reused: req.reusedSocket });
      });
      req.once("upgrade", (_response, socket, head) => {
        if (head.length > 0) socket.unshift(head);
        resolve({ upgraded: socket, reused: false });
      });
      if (params.upload) params.upload.once("error", (error) => req.destroy(error)).pipe(req);
      else req.end(body);
    });

  const respond = async (method: string, path: string, params: RequestParams): Promise<IncomingMessage> => {
    let sent;
    try {
      sent = await send(method, path, params);
    } catch (error) {
      // A kept-alive connection the engine closed meanwhile: one fresh try, when nothing was streamed.
      if ((error as NodeJS.ErrnoException).code !== "ECONNRESET" || params.upload) throw error;
      sent = await send(method, path, params);
    }
    const response = sent.response;
    if (!response) throw new Error(`engine upgraded ${method} ${path} unasked`);
    await failOnErrorStatus(response);
    return response;
  };

  return {
    async json<T>(method: string, path: string, params: RequestParams = {}) {
      const response = await respond(method, path, params);
      const text = (await readBody(response)).toString("utf8");
      const isJson = (response.headers["content-type"] ?? "").includes("json");
      return (isJson && text.trim() ? JSON.parse(text) : undefined) as T;
    },
    stream: (method, path, params = {}) => respond(method, path, params),
    async upgrade(path, body) {
      const sent = await send("POST", path, { body }, { connection: "Upgrade", upgrade: "tcp" });
      if (sent.upgraded) return sent.upgraded;
      const response = sent.response as IncomingMessage;
      await failOnErrorStatus(response);
      // An engine that streams without switching protocols: its response is the output.
      return response as unknown as Duplex;
    },
  };
}

async function failOnErrorStatus(response: IncomingMessage): Promise<void> {
  const status = response.statusCode ?? 0;
  if (status < 400) return;
  const text = (await readBody(response)).toString("utf8");
  let message = text.trim();
  try {
    message = (JSON.parse(text) as { message?: string }).message ?? message;
  } catch {
    // Not JSON: the text is the message.
  }
  throw new EngineHttpError(status, message || `HTTP ${String(status)}`);
}

function queryString(query: RequestParams["query"]): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value as readonly string[]) params.append(key, item);
    else params.append(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

async function readBody(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

interface Transport {
  request: typeof http.request;
  options: RequestOptions;
}

function transportFor(address: EngineAddress): Transport {
  switch (address.kind) {
    case "unix":
      // Kept-alive connections are unreferenced while idle: they never hold a process open.
      return {
        request: http.request,
        options: { socketPath: address.socketPath, agent: new http.Agent({ keepAlive: true }) },
      };
    case "tcp": {
      if (!address.tls) {
        const agent = new http.Agent({ keepAlive: true });
        return { request: http.request, options: { host: address.host, port: address.port, agent } };
      }
      const https = process.getBuiltinModule("node:https");
      const agent = new https.Agent({ keepAlive: true, ...address.tls });
      return { request: https.request, options: { host: address.host, port: address.port, agent } };
    }
    case "ssh":
      return { request: http.request, options: { host: "docker", createConnection: () => sshDial(address) } };
  }
}

/**
 * One connection to a remote engine through the user's own `ssh` (its config,
 * keys and known hosts), the way the docker CLI does it: `docker system
 * dial-stdio` on the far side joins stdin and stdout to the engine's socket.
 */
function sshDial(address: Extract<EngineAddress, { kind: "ssh" }>): Duplex {
  const args = [
    ...(address.port ? ["-p", String(address.port)] : []),
    "-o",
    "BatchMode=yes",
    "--",
    address.destination,
    "docker",
    "system",
    "dial-stdio",
  ];
  const child = spawn(process.env.SANDFLEET_SSH ?? "ssh", args, { stdio: ["pipe", "pipe", "pipe"] });
  const stderr: Buffer[] = [];
  child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
  const connection = Duplex.from({ readable: child.stdout, writable: child.stdin });
  child.once("error", (error) => connection.destroy(error));
  child.once("exit", (code) => {
    if (code !== 0 && code !== null && !connection.destroyed) {
      const detail = Buffer.concat(stderr).toString("utf8").trim();
      const error = Object.assign(new Error(`ssh ${address.destination}: ${detail || `exit ${String(code)}`}`), {
        code: "ECONNREFUSED",
      });
      connection.destroy(error);
    }
  });
  connection.once("close", () => child.kill());
  return connection;
}
