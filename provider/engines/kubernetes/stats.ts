import type { V1Pod } from "@kubernetes/client-node";
import { EngineError } from "../../errors.ts";
import type { ContainerStats } from "../port.ts";
import type { KubeApis } from "./api.ts";
import type { KubeCall } from "./errors.ts";
import { SANDBOX_CONTAINER } from "./pod-spec.ts";

interface SummaryPod {
  podRef?: { name?: string; namespace?: string };
  containers?: {
    name?: string;
    cpu?: { usageCoreNanoSeconds?: number };
    memory?: { workingSetBytes?: number };
    rootfs?: { usedBytes?: number };
  }[];
  network?: { rxBytes?: number; txBytes?: number };
  process_stats?: { process_count?: number };
}

/**
 * One sample of what a pod uses, from its kubelet's summary API (reached
 * through the API server's node proxy): no metrics-server needed.
 */
export async function podStats(apis: KubeApis, call: KubeCall, pod: V1Pod): Promise<ContainerStats> {
  const node = pod.spec?.nodeName;
  const id = pod.metadata?.name ?? "";
  if (!node) throw new EngineError(`pod ${id} is not on a node yet`);
  const text = await call(`read the usage of pod ${id} from node ${node}`, () =>
    apis.core.connectGetNodeProxyWithPath({ name: node, path: "stats/summary" }),
  );
  const summary = (typeof text === "string" ? JSON.parse(text) : text) as { pods?: SummaryPod[] };
  const entry = summary.pods?.find((p) => p.podRef?.name === id && p.podRef.namespace === apis.namespace);
  const container = entry?.containers?.find((c) => c.name === SANDBOX_CONTAINER);
  const limit = pod.spec?.containers.find((c) => c.name === SANDBOX_CONTAINER)?.resources?.limits?.memory;
  return {
    cpuNs: container?.cpu?.usageCoreNanoSeconds ?? 0,
    memoryBytes: container?.memory?.workingSetBytes ?? 0,
    memoryLimitBytes: limit ? Number(limit) : 0,
    pids: entry?.process_stats?.process_count ?? 0,
    networkRxBytes: entry?.network?.rxBytes ?? 0,
    networkTxBytes: entry?.network?.txBytes ?? 0,
    diskBytes: container?.rootfs?.usedBytes ?? 0,
  };
}
