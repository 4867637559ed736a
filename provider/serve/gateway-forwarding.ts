import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { sandboxCookieHeader, sandboxSetCookies } from "./gateway-cookies.ts";

// What the gateway passes each way between a browser and a sandbox's port, and how it refuses.

/** Headers of one hop, not passed on either way (an upgrade keeps `connection` and `upgrade`). */
export const HOP_HEADERS = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
];

/** What the sandbox is sent: the request's headers without the gateway's own credentials. */
export function forwardedHeaders(headers: IncomingHttpHeaders, upgrade: boolean, secure: boolean): IncomingHttpHeaders {
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
export function answerHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = withoutHopHeaders(headers);
  const cookies = sandboxSetCookies(headers["set-cookie"] ?? []);
  if (cookies.length > 0) out["set-cookie"] = cookies;
  else delete out["set-cookie"];
  return out;
}

/** A sandbox's status line and headers as bytes for a raw socket, less `drop`, its cookies filtered. */
export function rawHead(answer: IncomingMessage, drop: string[], extra?: string): string {
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

export function refuse(response: ServerResponse, status: number, reason: string): void {
  response
    .writeHead(status, {
      "content-type": "text/plain; charset=utf-8",
      "x-content-type-options": "nosniff",
      "cache-control": "no-store",
    })
    .end(`sandfleet gateway: ${reason}\n`);
}

export function refuseRaw(socket: Socket, status: number, reason: string): void {
  const body = `sandfleet gateway: ${reason}\n`;
  socket.end(
    `HTTP/1.1 ${String(status)} Refused\r\ncontent-type: text/plain; charset=utf-8\r\nx-content-type-options: nosniff\r\n` +
      "connection: close\r\n" +
      `content-length: ${String(Buffer.byteLength(body))}\r\n\r\n${body}`,
  );
}
