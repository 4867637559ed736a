import type { V1Pod } from "@kubernetes/client-node";
import type { KubeApis } from "./api.ts";
import type { KubeCall } from "./errors.ts";
import { OWNED_LABEL } from "./labels.ts";

/**
 * Pods' states for everything in this process that waits on them (a start,
 * a wait), read by one listing per round however many wait: twenty sandboxes
 * starting at once must not ask the API server twenty times as often.
 */
export function podPoller(apis: () => Promise<KubeApis>, call: KubeCall, intervalMs = 25) {
  const waiters = new Map<string, { resolve: (pod: V1Pod | undefined) => void; reject: (e: unknown) => void }[]>();
  let running = false;
  // A round answers only those who asked before it listed: a pod made meanwhile may not be in its listing.
  const round = async () => {
    const served = [...waiters];
    waiters.clear();
    try {
      const { core, namespace } = await apis();
      const pods = await call("list sandbox pods", () =>
        core.listNamespacedPod({ namespace, labelSelector: `${OWNED_LABEL}=true` }),
      );
      const byId = new Map(pods.items.map((p) => [p.metadata?.name ?? "", p]));
      for (const [id, list] of served) for (const w of list) w.resolve(byId.get(id));
    } catch (error) {
      for (const [, list] of served) for (const w of list) w.reject(error);
    }
  };
  const loop = async () => {
    running = true;
    try {
      while (waiters.size > 0) {
        await round();
        if (waiters.size > 0) await new Promise((resolve) => setTimeout(resolve, intervalMs));
      }
    } finally {
      running = false;
    }
  };
  return {
    /** The pod as the next round reads it; undefined once it is gone. */
    next(id: string): Promise<V1Pod | undefined> {
      return new Promise((resolve, reject) => {
        const list = waiters.get(id) ?? [];
        list.push({ resolve, reject });
        waiters.set(id, list);
        if (!running) void loop();
      });
    },
  };
}
