import { request as httpRequest, type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect, type LookupFunction, type Socket } from "node:net";

/**
 * HTTP clients for the gateway's URLs. Browsers resolve every `*.localhost`
 * name to loopback; Node's resolver does not, so these resolve every name
 * to 127.0.0.1 (and a test sends traffic nowhere else) while the URL's
 * name still goes out as the Host header and the TLS server name.
 */
const loopback: LookupFunction = (_hostname, options, callback) => {
  if (options.all) callback(null, [{ address: "127.0.0.1", family: 4 }]);
  else callback(null, "127.0.0.1", 4);
};

export interface Answer {
  status: number;
  headers: IncomingMessage["headers"];
  body: string;
}

export interface RequestOptions {
  method?: string;
  headers?: OutgoingHttpHeaders;
  body?: string;
  /** A certificate to trust (the test's own, for TLS). */
  ca?: string;
  agent?: import("node:http").Agent;
}

function open(url: string, options: RequestOptions): ClientRequest {
  const target = new URL(url);
  const common = {
    method: options.method ?? "GET",
    headers: options.headers ?? {},
    lookup: loopback,
    // A connection of its own unless an agent is given: a keep-alive socket the gateway is cutting would fail the next request.
    agent: options.agent ?? false,
  };
  return target.protocol === "https:"
    ? // The URL's name is the one the certificate is checked against, whatever Host the test sends.
      httpsRequest(target, { ...common, servername: target.hostname, ...(options.ca ? { ca: options.ca } : {}) })
    : httpRequest(target, common);
}

/** One request, its whole answer read. */
export function fetchLoopback(url: string, options: RequestOptions = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = open(url, options);
    req.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

/** A request whose answer is left streaming: its socket and the answer so far. */
export function openStream(
  url: string,
  options: RequestOptions = {},
): Promise<{ status: number; socket: Socket; received: () => string; ended: () => boolean }> {
  return new Promise((resolve, reject) => {
    const req = open(url, options);
    req.on("response", (res) => {
      let received = "";
      let ended = false;
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (received += chunk));
      const end = () => (ended = true);
      res.on("end", end);
      res.on("close", end);
      res.on("error", end);
      resolve({ status: res.statusCode ?? 0, socket: res.socket, received: () => received, ended: () => ended });
    });
    req.on("error", reject);
    req.end();
  });
}

export interface Upgrade {
  status: number;
  headers: IncomingMessage["headers"];
  /** Set once upgraded: send a text frame, wait for the next one. */
  socket?: Socket;
  body: string;
}

/** A WebSocket handshake: upgraded (101, with its socket), or refused (its status and body). */
export function upgradeLoopback(url: string, options: RequestOptions = {}): Promise<Upgrade> {
  return new Promise((resolve, reject) => {
    const req = open(url, {
      ...options,
      headers: {
        connection: "Upgrade",
        upgrade: "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": Buffer.from("sixteen byte key").toString("base64"),
        ...options.headers,
      },
    });
    req.on("upgrade", (res: IncomingMessage, socket: Socket) => {
      resolve({ status: res.statusCode ?? 0, headers: res.headers, socket, body: "" });
    });
    req.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    req.on("error", reject);
    req.end();
  });
}

/** Sends a masked text frame (as a client must) and resolves with the text of the next frame back. */
export function exchangeText(socket: Socket, text: string): Promise<string> {
  const data = Buffer.from(text);
  const mask = Buffer.from([1, 2, 3, 4]);
  const masked = Buffer.from(data.map((b, i) => b ^ (mask[i % 4] ?? 0)));
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const length = (buffered[1] ?? 0) & 0x7f;
      if (buffered.length >= 2 + length) {
        socket.off("data", onData);
        resolve(buffered.subarray(2, 2 + length).toString());
      }
    };
    socket.on("data", onData);
    socket.once("close", () => {
      reject(new Error("the WebSocket closed"));
    });
    socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | data.length]), mask, masked]));
  });
}

/** Whether a TCP connection to `host`:`port` is accepted and its HTTP request answered, or refused (or cut at once). */
export function answersAt(host: string, port: number, path = "/"): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(5_000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("connect", () => {
      socket.write(`GET ${path} HTTP/1.0\r\n\r\n`);
    });
    socket.once("data", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => {
      resolve(false);
    });
    socket.once("close", () => {
      resolve(false);
    });
  });
}
