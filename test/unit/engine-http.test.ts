// The engine's HTTP/1.1, against servers on a local socket: Node's own HTTP
// server for the ordinary cases, a raw socket server for byte-by-byte ones.
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createNetServer, type Server, type Socket } from "node:net";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { EngineHttpError, engineHttp } from "../../provider/engines/docker/http.ts";

const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  // The client keeps its connections for the next request: the servers end them.
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

function socketPath(): string {
  return join(mkdtempSync(join(tmpdir(), "sandfleet-http-")), "engine.sock");
}

async function listen(server: Server): Promise<ReturnType<typeof engineHttp>> {
  const path = socketPath();
  servers.push(server);
  server.on("connection", (socket: Socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return engineHttp({ kind: "unix", socketPath: path });
}

function httpEngine(handler: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void) {
  const connections = { count: 0 };
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      handler(req, res, Buffer.concat(chunks));
    });
  });
  server.on("connection", () => connections.count++);
  return { server, connections };
}

/** A server that answers every request with these bytes, written a few at a time. */
function rawEngine(reply: (request: string, socket: Socket) => void): Server {
  return createNetServer((socket) => {
    let text = "";
    socket.on("data", (d: Buffer) => {
      text += d.toString("latin1");
      if (text.includes("\r\n\r\n")) {
        reply(text, socket);
        text = "";
      }
    });
  });
}

async function dribble(socket: Socket, text: string, size: number): Promise<void> {
  const bytes = Buffer.from(text, "utf8");
  for (let i = 0; i < bytes.length; i += size) {
    socket.write(bytes.subarray(i, i + size));
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

describe("the engine's HTTP", () => {
  it("sends JSON, reads JSON, and keeps one connection for many requests", async () => {
    const { server, connections } = httpEngine((req, res, body) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ method: req.method, url: req.url, host: req.headers.host, got: body.toString() }));
    });
    const engine = await listen(server);
    const first = await engine.json("POST", "/containers/create", { query: { name: "a b" }, body: { Image: "x" } });
    expect(first).toEqual({ method: "POST", url: "/containers/create?name=a+b", host: "docker", got: '{"Image":"x"}' });
    for (let i = 0; i < 5; i++) await engine.json("GET", `/containers/${String(i)}/json`);
    expect(connections.count).toBe(1);
  });

  it("reads chunked bodies however the bytes are split", async () => {
    const payload = "x".repeat(300) + "é€" + "y".repeat(40);
    const chunks = [payload.slice(0, 7), payload.slice(7, 200), payload.slice(200)];
    const framed = chunks.map((c) => `${Buffer.byteLength(c).toString(16)}\r\n${c}\r\n`).join("") + "0\r\n\r\n";
    for (const size of [1, 2, 3, 7, 64]) {
      const server = rawEngine((_request, socket) => {
        void dribble(
          socket,
          `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n${framed}`,
          size,
        );
      });
      const engine = await listen(server);
      const stream = await engine.stream("GET", "/logs");
      const parts: Buffer[] = [];
      for await (const part of stream) parts.push(part as Buffer);
      expect(Buffer.concat(parts).toString("utf8")).toBe(payload);
    }
  });

  it("reads a body framed by its length, split byte by byte", async () => {
    const body = JSON.stringify({ Id: "abc", Labels: { "sandfleet.app": "ü" } });
    const server = rawEngine((_request, socket) => {
      void dribble(
        socket,
        `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${String(Buffer.byteLength(body))}\r\n\r\n${body}`,
        1,
      );
    });
    const engine = await listen(server);
    expect(await engine.json("GET", "/x")).toEqual({ Id: "abc", Labels: { "sandfleet.app": "ü" } });
  });

  it("turns an error status into EngineHttpError with the engine's message", async () => {
    const { server } = httpEngine((_req, res) => {
      res.statusCode = 404;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ message: "No such container: nope" }));
    });
    const engine = await listen(server);
    const error = await engine.json("GET", "/containers/nope/json").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineHttpError);
    expect(error).toMatchObject({ statusCode: 404, message: "No such container: nope" });
  });

  it("streams an upload in chunked encoding", async () => {
    const { server } = httpEngine((req, res, body) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ encoding: req.headers["transfer-encoding"], size: body.length, last: body.at(-1) }));
    });
    const engine = await listen(server);
    const upload = Readable.from([Buffer.alloc(70_000, 1), Buffer.alloc(0), Buffer.alloc(5, 9)]);
    expect(await engine.json("POST", "/build", { upload })).toEqual({ encoding: "chunked", size: 70_005, last: 9 });
  });

  it("hands over a connection the engine takes over, with the bytes that came with the 101", async () => {
    const server = rawEngine((request, socket) => {
      expect(request).toMatch(/\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n/);
      socket.write("HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nhello ");
      socket.removeAllListeners("data");
      socket.on("data", (d: Buffer) => socket.end(`echo:${d.toString()}`));
    });
    const engine = await listen(server);
    const stream = await engine.upgrade("/exec/1/start", { Detach: false });
    stream.write("ping");
    const parts: Buffer[] = [];
    for await (const part of stream) parts.push(part as Buffer);
    expect(Buffer.concat(parts).toString()).toBe("hello echo:ping");
  });

  it("tries once more on a new connection when a kept one was closed meanwhile", async () => {
    let served = 0;
    const server = rawEngine((_request, socket) => {
      served++;
      socket.write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
      // The engine drops every connection after one answer, without saying so.
      setTimeout(() => socket.destroy(), 5);
    });
    const engine = await listen(server);
    await engine.json("GET", "/a");
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(await engine.json("GET", "/b")).toEqual({});
    expect(served).toBe(2);
  });

  it("fails with the socket's own error code when nothing listens", async () => {
    const engine = engineHttp({ kind: "unix", socketPath: socketPath() });
    await expect(engine.json("GET", "/_ping")).rejects.toMatchObject({ code: "ENOENT" });
  });
});
