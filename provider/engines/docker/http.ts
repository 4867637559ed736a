/**
 * The Docker Engine API, as the engine serves it on its socket. Paths are
 * unversioned, so the engine answers in its own API version.
 */
import { Duplex, PassThrough, type Readable } from "node:stream";
import { readAll } from "../../streams.ts";
import type { EngineAddress } from "./connect.ts";
import { readResponse, requestHead, writeChunked, type Response } from "./http1.ts";

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
  headers?: Readonly<Record<string, string>>;
}

export interface EngineHttp {
  /** The response body parsed as JSON; undefined when the engine sends none, or text (a ping's OK). */
  json<T>(method: string, path: string, params?: RequestParams): Promise<T>;
  /** The response body as a stream, for logs, events, exports and progress. */
  stream(method: string, path: string, params?: RequestParams): Promise<Readable>;
  /** A connection the engine has taken over (an exec's stdin and output), paused until it is read. */
  upgrade(path: string, body: unknown): Promise<Duplex>;
}

/** Connections kept open for reuse, at most: a burst of parallel calls does not leave them all open. */
const MAX_IDLE = 16;

export function engineHttp(address: EngineAddress): EngineHttp {
  const connect = connectorFor(address);
  // Connections kept for the next request; unreferenced while they wait, so they never hold a process open.
  const idle: Duplex[] = [];

  const open = (): Duplex => {
    const socket = connect();
    // A kept connection the engine closes or resets while it waits is simply dropped.
    socket.on("error", () => undefined);
    socket.on("close", () => {
      const at = idle.indexOf(socket);
      if (at >= 0) idle.splice(at, 1);
    });
    return socket;
  };
  const release = (socket: Duplex, reusable: boolean) => {
    if (!reusable || socket.destroyed || address.kind === "ssh" || idle.length >= MAX_IDLE) {
      socket.destroy();
      return;
    }
    unref(socket);
    idle.push(socket);
  };

  const exchange = async (
    method: string,
    path: string,
    params: RequestParams,
    extra: Record<string, string> = {},
  ): Promise<Awaited<ReturnType<typeof readResponse>>> => {
    let kept = idle.pop();
    // One the engine has ended meanwhile will not answer: it is dropped, not reused.
    while (kept && (kept.destroyed || kept.readableEnded || !kept.writable)) {
      kept.destroy();
      kept = idle.pop();
    }
    const socket = kept ?? open();
    if (kept) ref(kept);
    const body = params.body === undefined ? undefined : Buffer.from(JSON.stringify(params.body));
    const headers: Record<string, string> = {
      ...(body ? { "Content-Type": "application/json", "Content-Length": String(body.length) } : {}),
      ...(params.upload ? { "Content-Type": "application/x-tar", "Transfer-Encoding": "chunked" } : {}),
      ...(!body && !params.upload && method !== "GET" ? { "Content-Length": "0" } : {}),
      ...params.headers,
      ...extra,
    };
    const responded = readResponse(socket, method, (reusable) => {
      release(socket, reusable);
    });
    socket.write(requestHead(method, path + queryString(params.query), headers));
    if (body) socket.write(body);
    if (params.upload) {
      writeChunked(socket, params.upload).catch((error: unknown) => socket.destroy(error as Error));
    }
    try {
      return await responded;
    } catch (error) {
      // A kept connection the engine closed meanwhile: once more on a new one, when nothing was streamed.
      const code = (error as NodeJS.ErrnoException).code;
      if (!kept || params.upload || (code !== "ECONNRESET" && code !== "EPIPE")) throw error;
      return exchange(method, path, params, extra);
    }
  };

  const respond = async (method: string, path: string, params: RequestParams): Promise<Response> => {
    const response = await exchange(method, path, params);
    if (!("body" in response)) throw new Error(`the engine took over the connection of ${method} ${path} unasked`);
    await failOnErrorStatus(response);
    return response;
  };

  return {
    async json<T>(method: string, path: string, params: RequestParams = {}) {
      const response = await respond(method, path, params);
      const text = (await readAll(response.body)).toString("utf8");
      const isJson = (response.headers["content-type"] ?? "").includes("json");
      return (isJson && text.trim() ? JSON.parse(text) : undefined) as T;
    },
    async stream(method, path, params = {}) {
      return (await respond(method, path, params)).body;
    },
    async upgrade(path, body) {
      const response = await exchange("POST", path, { body }, { Connection: "Upgrade", Upgrade: "tcp" });
      if ("upgraded" in response) return response.upgraded;
      await failOnErrorStatus(response);
      // An engine that streams without switching protocols: its body is the output.
      return Duplex.from({ readable: response.body, writable: new PassThrough() });
    },
  };
}

async function failOnErrorStatus(response: Response): Promise<void> {
  if (response.status < 400) return;
  const text = (await readAll(response.body)).toString("utf8");
  let message = text.trim();
  try {
    message = (JSON.parse(text) as { message?: string }).message ?? message;
  } catch {
    // Not JSON: the text is the message.
  }
  throw new EngineHttpError(response.status, message || `HTTP ${String(response.status)}`);
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

const ref = (socket: Duplex) => (socket as Duplex & { ref?: () => void }).ref?.();
const unref = (socket: Duplex) => (socket as Duplex & { unref?: () => void }).unref?.();

/** How to open a new connection to the engine. */
function connectorFor(address: EngineAddress): () => Duplex {
  switch (address.kind) {
    case "unix": {
      const net = process.getBuiltinModule("node:net");
      return () => net.connect(address.socketPath);
    }
    case "tcp": {
      if (!address.tls) {
        const net = process.getBuiltinModule("node:net");
        return () => net.connect(address.port, address.host);
      }
      const tls = process.getBuiltinModule("node:tls");
      const { host, port } = address;
      return () => tls.connect({ host, port, servername: host, ...address.tls });
    }
    case "ssh":
      return () => sshDial(address);
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
  const { spawn } = process.getBuiltinModule("node:child_process");
  const child = spawn(process.env.SANDFLEET_SSH ?? "ssh", args, { stdio: ["pipe", "pipe", "pipe"] });
  const stderr: Buffer[] = [];
  child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
  const connection = new Duplex({
    read: () => child.stdout.resume(),
    // A write that fails because ssh has gone is reported by the exit below, with ssh's words.
    write: (chunk: Buffer, _encoding, callback) =>
      child.stdin.write(chunk, () => {
        callback();
      }),
    final: (callback) => {
      child.stdin.end();
      callback();
    },
    destroy: (error, callback) => {
      child.kill();
      callback(error);
    },
  });
  // Like a socket's: whether this connection alone keeps the Node process running.
  // The pipes are sockets underneath, with ref() and unref() of their own.
  const handles = [child, child.stdin, child.stdout, child.stderr] as unknown as { ref(): void; unref(): void }[];
  Object.assign(connection, {
    ref() {
      for (const handle of handles) handle.ref();
    },
    unref() {
      for (const handle of handles) handle.unref();
    },
  });
  child.stdout.on("data", (chunk: Buffer) => {
    if (!connection.push(chunk)) child.stdout.pause();
  });
  child.stdin.on("error", () => undefined);
  // The connection ends when ssh does, so that a failed ssh is an error with its own words, not an early end.
  child.once("close", (code) => {
    if (code === 0) {
      connection.push(null);
      return;
    }
    const detail = Buffer.concat(stderr).toString("utf8").trim() || `ssh exited with ${String(code)}`;
    connection.destroy(Object.assign(new Error(detail), { code: "ECONNREFUSED", detail }));
  });
  child.once("error", (error) =>
    connection.destroy(Object.assign(error, { detail: `cannot run ssh: ${error.message}` })),
  );
  return connection;
}
