import type { V1Pod } from "@kubernetes/client-node";
import { ConflictError, EngineError, EngineUnavailableError, NotFoundError } from "../../errors.ts";
import { errorText } from "./errors.ts";
import { podTrouble } from "./pod-trouble.ts";

/**
 * How long an exec's WebSocket may take to open. The API server dials the
 * pod's kubelet first; a node cut off (not a kubelet that refuses) would hold
 * it for the API server's own dial timeout, and every per-pod call of the
 * agent with it.
 */
export const EXEC_OPEN_TIMEOUT_MS = 20_000;

/**
 * Opens an exec's WebSocket, within EXEC_OPEN_TIMEOUT_MS. A refusal reads as
 * what it is: a refused WebSocket rejects with "Unexpected server response:
 * 500" (an Error, or an event carrying one in its `message`), and the API
 * server answers 5xx when it cannot reach the pod's kubelet, so the pod is
 * read to say which node and why.
 */
export function openExec(
  readPod: () => Promise<V1Pod>,
  podId: string,
  timeoutMs = EXEC_OPEN_TIMEOUT_MS,
  /** What the WebSocket is for, in the messages: "exec", or "port-forward". */
  what = "exec",
) {
  return <T>(open: () => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      let late = false;
      const timer = setTimeout(() => {
        late = true;
        void unanswered(readPod, podId, timeoutMs, what).then(reject);
      }, timeoutMs);
      open().then(
        (socket) => {
          clearTimeout(timer);
          // Opened after the caller was told it did not: nobody reads it.
          if (late) (socket as { close?: () => void }).close?.();
          else resolve(socket);
        },
        async (error: unknown) => {
          clearTimeout(timer);
          if (late) return;
          const status = Number(/Unexpected server response: (\d{3})/.exec(errorText(error))?.[1] ?? 0);
          reject(status === 0 ? asError(error) : await refusal(status, errorText(error), readPod, podId, what));
        },
      );
    });
}

async function unanswered(
  readPod: () => Promise<V1Pod>,
  podId: string,
  timeoutMs: number,
  what: string,
): Promise<Error> {
  const pod = await readPod().catch(() => undefined);
  const node = pod?.spec?.nodeName;
  const trouble = pod && podTrouble(pod);
  const lost = trouble?.reason === "node-lost" ? `; node-lost: ${trouble.detail}` : "";
  return new EngineUnavailableError(
    `${what === "exec" ? "an" : "a"} ${what} in pod ${podId} did not open in ${String(timeoutMs / 1000)} s: ` +
      `${node ? `its node ${node}` : "its node"} does not answer${lost}`,
  );
}

async function refusal(
  status: number,
  said: string,
  readPod: () => Promise<V1Pod>,
  podId: string,
  what: string,
): Promise<Error> {
  if (status === 404) return new NotFoundError(`no such sandbox pod: ${podId}`);
  if (status < 500) return new EngineError(`the API server refused the ${what} (${said})`);
  const pod = await readPod().catch(() => undefined);
  const node = pod?.spec?.nodeName;
  const trouble = pod && podTrouble(pod);
  if (trouble?.ended && trouble.reason !== "node-lost") {
    return new ConflictError(`the sandbox has ended (${trouble.reason}): ${trouble.detail}`);
  }
  const why = trouble?.reason === "node-lost" ? `node-lost: ${trouble.detail}` : `the API server answered ${said}`;
  return new EngineUnavailableError(
    node ? `the pod's node ${node} does not answer (${why})` : `the API server could not reach the pod's node (${why})`,
  );
}

/** What the opening rejected with, as an Error: a socket's error event gives the error it carries (its code with it). */
function asError(error: unknown): Error {
  if (error instanceof Error) return error;
  const inner = (error as { error?: unknown } | null)?.error;
  return inner instanceof Error ? inner : new Error(errorText(error));
}
