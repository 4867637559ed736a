/**
 * HTTP/1.1 as the Docker engine speaks it on its socket: requests with a JSON
 * or streamed body, responses framed by Content-Length, chunked encoding or
 * the connection's end, and connections the engine takes over (101) for an
 * exec's streams.
 *
 * Written against node:net rather than node:http: loading and warming up
 * Node's HTTP client costs a short-lived process ~28 ms, a third of what the
 * engine itself spends on an exec. The docker CLI speaks the same protocol
 * over the same socket.
 */
import { Duplex, PassThrough, type Readable } from "node:stream";

export interface Head {
  status: number;
  headers: Record<string, string>;
}

export interface Response extends Head {
  /** The body, decoded from its framing. */
  body: Readable;
}

const CRLF = "\r\n";
const HEAD_END = Buffer.from("\r\n\r\n");
/** A response head larger than this is not an engine's. */
const MAX_HEAD = 64 * 1024;

/** The request's bytes before its body. */
export function requestHead(method: string, path: string, headers: Record<string, string>): string {
  const lines = [
    `${method} ${path} HTTP/1.1`,
    "Host: docker",
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  return lines.join(CRLF) + CRLF + CRLF;
}

/** Writes a streamed body in chunked encoding, waiting on the connection when it is full. */
export async function writeChunked(socket: Duplex, upload: Readable): Promise<void> {
  for await (const chunk of upload) {
    const data = chunk as Buffer;
    if (data.length === 0) continue;
    const framed = Buffer.concat([Buffer.from(`${data.length.toString(16)}${CRLF}`), data, Buffer.from(CRLF)]);
    if (!socket.write(framed)) await new Promise((resolve) => socket.once("drain", resolve));
  }
  socket.write(`0${CRLF}${CRLF}`);
}

type Framing =
  | { kind: "none" }
  | { kind: "close" }
  | { kind: "length"; left: number }
  | { kind: "chunked"; state: "size" | "data-end" | "trailer" }
  | { kind: "chunked"; state: "data"; left: number };

function parseHead(text: string): Head {
  const [statusLine = "", ...lines] = text.split(CRLF);
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!match)
    throw Object.assign(new Error(`not an HTTP response: ${JSON.stringify(statusLine.slice(0, 80))}`), {
      code: "EPROTO",
    });
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(match[1]), headers };
}

function framingOf(method: string, head: Head): Framing {
  if (method === "HEAD" || head.status === 204 || head.status === 304) return { kind: "none" };
  if ((head.headers["transfer-encoding"] ?? "").toLowerCase().includes("chunked")) {
    return { kind: "chunked", state: "size" };
  }
  const length = Number(head.headers["content-length"] ?? Number.NaN);
  if (Number.isInteger(length) && length >= 0)
    return length === 0 ? { kind: "none" } : { kind: "length", left: length };
  return { kind: "close" };
}

/**
 * Reads one response from the connection. Resolves once its head is in, with
 * the body still streaming; `done` is told whether the connection can carry
 * another request once the body has ended. A 101 resolves with the
 * connection itself, holding whatever the engine already sent after the head.
 */
export function readResponse(
  socket: Duplex,
  method: string,
  done: (reusable: boolean) => void,
): Promise<Response | { status: 101; headers: Record<string, string>; upgraded: Duplex }> {
  return new Promise((resolve, reject) => {
    let buffered: Buffer = Buffer.alloc(0);
    let body: PassThrough | undefined;
    let framing: Framing = { kind: "none" };
    // Whether the engine lets the connection carry another request after this one.
    let keepAlive = true;

    const detach = () => {
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("error", onError);
    };
    let finished = false;
    const finish = (error?: Error) => {
      if (finished) return;
      finished = true;
      detach();
      if (body) {
        if (error) body.destroy(error);
        else body.end();
      } else if (error) reject(error);
      done(!error && keepAlive && framing.kind !== "close");
    };
    const protocolError = (what: string) => {
      finish(Object.assign(new Error(what), { code: "EPROTO" }));
    };
    const push = (data: Buffer) => {
      if (body && data.length > 0 && !body.write(data)) {
        socket.pause();
        body.once("drain", () => socket.resume());
      }
    };
    const take = (count: number): Buffer => {
      const taken = buffered.subarray(0, count);
      buffered = buffered.subarray(taken.length);
      return taken;
    };
    const line = (): string | undefined => {
      const eol = buffered.indexOf(CRLF);
      if (eol < 0) return undefined;
      const text = take(eol).toString("latin1");
      take(2);
      return text;
    };

    /** Moves what has arrived into the body; finishes once the framing says the body is whole. */
    const consumeBody = (): void => {
      for (;;) {
        switch (framing.kind) {
          case "none": {
            finish();
            return;
          }
          case "close":
            push(take(buffered.length));
            return;
          case "length": {
            const data = take(framing.left);
            push(data);
            framing.left -= data.length;
            if (framing.left === 0) {
              finish();
              return;
            }
            return;
          }
          case "chunked":
            break;
        }
        if (framing.state === "size") {
          const text = line();
          if (text === undefined) return;
          const size = Number.parseInt(text.split(";")[0] ?? "", 16);
          if (!Number.isInteger(size) || size < 0) {
            protocolError(`bad chunk size ${JSON.stringify(text)}`);
            return;
          }
          framing = size === 0 ? { kind: "chunked", state: "trailer" } : { kind: "chunked", state: "data", left: size };
        } else if (framing.state === "data") {
          const data = take(framing.left);
          push(data);
          framing.left -= data.length;
          if (framing.left > 0) return;
          framing = { kind: "chunked", state: "data-end" };
        } else if (framing.state === "data-end") {
          if (buffered.length < 2) return;
          take(2);
          framing = { kind: "chunked", state: "size" };
        } else {
          const text = line();
          if (text === undefined) return;
          if (text === "") {
            finish();
            return;
          }
        }
      }
    };

    const onData = (data: Buffer) => {
      buffered = buffered.length === 0 ? data : Buffer.concat([buffered, data]);
      if (body) {
        consumeBody();
        return;
      }
      const end = buffered.indexOf(HEAD_END);
      if (end < 0) {
        if (buffered.length > MAX_HEAD) finish(Object.assign(new Error("response head too large"), { code: "EPROTO" }));
        return;
      }
      let head: Head;
      try {
        head = parseHead(buffered.subarray(0, end).toString("latin1"));
      } catch (error) {
        finish(error as Error);
        return;
      }
      buffered = buffered.subarray(end + HEAD_END.length);
      if (head.status === 101) {
        detach();
        socket.pause();
        if (buffered.length > 0) socket.unshift(buffered);
        resolve({ status: 101, headers: head.headers, upgraded: socket });
        return;
      }
      framing = framingOf(method, head);
      keepAlive = (head.headers.connection ?? "").toLowerCase() !== "close";
      body = new PassThrough();
      // A reader that stops early (a followed log no longer wanted) ends the exchange and its connection.
      body.once("close", () => {
        if (finished) return;
        finished = true;
        detach();
        socket.destroy();
        done(false);
      });
      resolve({ ...head, body });
      consumeBody();
    };
    const onEnd = () => {
      if (body && framing.kind === "close") {
        finish();
        return;
      }
      finish(Object.assign(new Error("the engine closed the connection mid-response"), { code: "ECONNRESET" }));
    };
    const onError = (error: Error) => {
      finish(error);
    };
    socket.on("data", onData);
    socket.once("end", onEnd);
    socket.once("error", onError);
    socket.resume();
  });
}
