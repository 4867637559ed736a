import type { V1Pod } from "@kubernetes/client-node";
import {
  END_DETAIL_ATTRIBUTE,
  END_REASON_ATTRIBUTE,
  type EngineEvent,
  type EventClient,
  type Labels,
} from "../port.ts";
import type { KubeApis } from "./api.ts";
import type { KubeCall } from "./errors.ts";
import { labelsOf, nameOf, selectorFor } from "./labels.ts";

import { SANDBOX_CONTAINER } from "./pod-spec.ts";
import { LOST_EXIT_CODE, podTrouble } from "./pod-trouble.ts";

const ms = (value: Date | string | undefined) => (value ? new Date(value).getTime() : 0);

/**
 * A pod's life as the Docker engine's events would tell it: create, start,
 * health_status, die (with its exit code) and oom. The API server keeps no
 * history of a pod's states, so these are read off the pods themselves.
 */
export function podEvents(pod: V1Pod): EngineEvent[] {
  const id = pod.metadata?.name ?? "";
  const labels = labelsOf(pod.metadata);
  const attributes = (extra: Record<string, string> = {}) => ({ ...labels, name: nameOf(pod.metadata), ...extra });
  const status = pod.status?.containerStatuses?.find((c) => c.name === SANDBOX_CONTAINER);
  const event = (action: string, timeMs: number, extra?: Record<string, string>): EngineEvent => ({
    timeMs,
    action,
    detail: "",
    containerId: id,
    execId: undefined,
    attributes: attributes(extra),
  });
  const events = [event("create", ms(pod.metadata?.creationTimestamp))];
  const started = status?.state?.running?.startedAt ?? status?.state?.terminated?.startedAt;
  if (started) events.push(event("start", ms(started)));
  const ready = pod.status?.conditions?.find((c) => c.type === "Ready" && c.status === "True");
  if (ready && status?.state?.running)
    events.push(event("health_status", ms(ready.lastTransitionTime), { health: "healthy" }));
  const ended = status?.state?.terminated;
  // Ended by the cluster (its node lost, an eviction): the die says why, as END_REASON_ATTRIBUTE.
  const trouble = podTrouble(pod);
  const why: Record<string, string> = trouble?.ended
    ? { [END_REASON_ATTRIBUTE]: trouble.reason, [END_DETAIL_ATTRIBUTE]: trouble.detail }
    : {};
  if (ended?.reason === "OOMKilled") events.push(event("oom", ms(ended.finishedAt)));
  // A pod dies once (it is never restarted), and is told once it has settled: its phase final, or
  // ended by the cluster. Its container's end alone may come a moment before the kubelet says why.
  const settled = pod.status?.phase === "Failed" || pod.status?.phase === "Succeeded";
  if ((ended && settled) || trouble?.ended) {
    const when = trouble?.ended ? trouble.sinceMs : undefined;
    events.push(
      event(
        "die",
        when ?? ms(ended?.finishedAt ?? pod.metadata?.deletionTimestamp ?? pod.metadata?.creationTimestamp),
        {
          exitCode: String(ended?.exitCode ?? LOST_EXIT_CODE),
          ...why,
        },
      ),
    );
  }
  return events;
}

export function eventClient(apis: () => Promise<KubeApis>, call: KubeCall): EventClient {
  const listEvents = async (labels: Labels, containerId?: string): Promise<EngineEvent[]> => {
    const { core, namespace } = await apis();
    const { selector, matches } = selectorFor(labels);
    const pods = await call("list sandbox pods", () => core.listNamespacedPod({ namespace, labelSelector: selector }));
    return pods.items
      .filter((pod) => matches(labelsOf(pod.metadata)) && (!containerId || pod.metadata?.name === containerId))
      .flatMap(podEvents)
      .sort((a, b) => a.timeMs - b.timeMs);
  };
  return {
    async containerEvents(params) {
      const wanted = new Set(params.actions);
      return (await listEvents(params.labels, params.containerId)).filter(
        (e) => wanted.has(e.action) && e.timeMs >= params.sinceMs && e.timeMs <= params.untilMs,
      );
    },
    async *watch(params) {
      const wanted = new Set(params.actions);
      const seen = new Set<string>();
      // A die is told once, whatever time a later reading gives it; other actions once per time.
      const key = (e: EngineEvent) => `${e.containerId}/${e.action}/${e.action === "die" ? "" : String(e.timeMs)}`;
      // The API server's times are whole seconds: an event of the second the watch started is after it.
      let since = Math.floor((params.sinceMs ?? Date.now()) / 1000) * 1000;
      while (!params.signal.aborted) {
        for (const e of await listEvents(params.labels)) {
          if (!wanted.has(e.action) || e.timeMs < since || seen.has(key(e))) continue;
          seen.add(key(e));
          yield e;
        }
        since = Math.max(since, Date.now() - 60_000);
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, 500);
          params.signal.addEventListener("abort", () => {
            clearTimeout(timer);
            resolve(undefined);
          });
        });
      }
    },
  };
}
