import type { V1Pod } from "@kubernetes/client-node";
import { ConflictError, EngineError, EngineUnavailableError, NotFoundError } from "../../errors.ts";
import { errorText } from "./errors.ts";
import { podTrouble } from "./pod-trouble.ts";

/**
 * An exec's WebSocket refused: the library rejects with the socket's error
 * event, which is no Error ("Unexpected server response: 500" in its
 * `message`). The API server answers 5xx when it cannot reach the pod's
 * kubelet, so the pod is read to say which node and why.
 */
export function openExec(readPod: () => Promise<V1Pod>, podId: string) {
  return async <T>(open: () => Promise<T>): Promise<T> => {
    try {
      return await open();
    } catch (error) {
      const status = Number(/Unexpected server response: (\d{3})/.exec(errorText(error))?.[1] ?? 0);
      if (status === 0) throw error;
      throw await refusal(status, errorText(error), readPod, podId);
    }
  };
}

async function refusal(status: number, said: string, readPod: () => Promise<V1Pod>, podId: string): Promise<Error> {
  if (status === 404) return new NotFoundError(`no such sandbox pod: ${podId}`);
  if (status < 500) return new EngineError(`the API server refused the exec (${said})`);
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
