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
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => {
        const status = response.statusCode ?? 0;
        const said = statusMessage(Buffer.concat(chunks).toString("utf8"));
        request.destroy();
        reject(
          Object.assign(new Error(`Unexpected server response: ${String(status)}${said ? ` (${said})` : ""}`), {
            status,
          }),
        );
      });
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
