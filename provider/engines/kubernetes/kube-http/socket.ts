import WebSocket from "ws";
import type { KubeHttp, Query } from "./http.ts";

/**
 * A WebSocket to the API server (exec, port-forward), open and PAUSED once
 * it resolves: the server speaks at once (a port-forward's first frames come
 * with its answer), and what it says before the caller listens would be lost,
 * so the caller resumes it once its listeners are on. A refusal rejects with "Unexpected server response: CODE" and the API's
 * Status message (what exec-failure.ts reads), after one more try with a new
 * credential on a 401. The first connection of the pool may carry it, so an
 * exec after a read of its pod costs no second TLS handshake.
 */
/** The most of a refusal's body that is read. */
const MAX_REFUSAL_BYTES = 64 * 1024;

export async function openSocket(http: KubeHttp, path: string, query: Query, protocols: string[]): Promise<WebSocket> {
  try {
    return await attempt(http, path, query, protocols);
  } catch (error) {
    if ((error as { status?: number }).status === 401 && http.refreshCredentials())
      return attempt(http, path, query, protocols);
    throw error;
  }
}

async function attempt(http: KubeHttp, path: string, query: Query, protocols: string[]): Promise<WebSocket> {
  const target = await http.socketTarget(path, query);
  const socket = new WebSocket(target.url, protocols, {
    headers: target.headers,
    agent: target.agent,
    ...target.tls,
    perMessageDeflate: false,
    // A server that takes the connection and never answers the upgrade would hold the exec forever.
    handshakeTimeout: target.idleMs,
  });
  return new Promise<WebSocket>((resolve, reject) => {
    socket.once("open", () => {
      // Before the socket's first read (ws reads what came with the answer on a later tick).
      socket.pause();
      socket.removeListener("error", reject);
      resolve(socket);
    });
    socket.once("error", reject);
    socket.on("unexpected-response", (request, response) => {
      // The refusal is what is said, even when the handshake's own time runs out while it is read.
      socket.removeListener("error", reject);
      socket.on("error", () => undefined);
      const chunks: Buffer[] = [];
      let size = 0;
      let said = false;
      const refuse = () => {
        if (said) return;
        said = true;
        clearTimeout(timer);
        const status = response.statusCode ?? 0;
        const message = statusMessage(Buffer.concat(chunks).toString("utf8"));
        request.destroy();
        reject(
          Object.assign(new Error(`Unexpected server response: ${String(status)}${message ? ` (${message})` : ""}`), {
            status,
          }),
        );
      };
      // A refusal's words are a Status of a few hundred bytes: a body without end, or one that never
      // ends, is cut where the bound or the time runs out and the refusal said with what came.
      const timer = setTimeout(refuse, target.idleMs);
      response.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_REFUSAL_BYTES) chunks.push(chunk);
        else refuse();
      });
      response.on("end", refuse);
      response.on("error", refuse);
    });
  });
}

/** A Status object's message, else the start of the body. */
function statusMessage(body: string): string {
  try {
    const { message } = JSON.parse(body) as { message?: unknown };
    if (typeof message === "string") return message;
  } catch {
    // not JSON: said as it came
  }
  return body.slice(0, 300).trim();
}
