import type { V1Pod } from "@kubernetes/client-node";
import { EngineError } from "../../errors.ts";
import type { ContainerStats, ExecResult } from "../port.ts";
import { parseQuantity, SANDBOX_CONTAINER } from "./pod-spec.ts";

/** What `sandfleet-supervisor stats` prints. */
interface SupervisorUsage {
  cpuNs?: number;
  memoryBytes?: number;
  pids?: number;
  networkRxBytes?: number;
  networkTxBytes?: number;
}

/**
 * One sample of what a pod uses, read inside it by its supervisor
 * (`sandfleet-supervisor stats`, through the pod's exec): the cgroup and
 * network counters of the sandbox itself. It needs nothing outside the
 * namespace, where the kubelet's summary API would need read access to
 * every node's proxy, which shows the pods of every namespace.
 */
export async function podStats(
  pod: V1Pod,
  supervisorDir: string | undefined,
  readUsage: (id: string, dir: string) => Promise<ExecResult>,
): Promise<ContainerStats> {
  const id = pod.metadata?.name ?? "";
  if (!supervisorDir) {
    throw new EngineError(
      `pod ${id} has no supervisor: on Kubernetes a sandbox's usage is read by its supervisor, and this one was made without`,
    );
  }
  const result = await readUsage(id, supervisorDir);
  if (result.exitCode !== 0) {
    throw new EngineError(`read the usage of pod ${id}: the supervisor said ${result.stderr.trim() || "nothing"}`);
  }
  let usage: SupervisorUsage;
  try {
    usage = JSON.parse(result.stdout) as SupervisorUsage;
  } catch {
    throw new EngineError(`read the usage of pod ${id}: the supervisor's answer is not JSON`);
  }
  const limit = pod.spec?.containers.find((c) => c.name === SANDBOX_CONTAINER)?.resources?.limits?.memory;
  const count = (n: unknown) => (typeof n === "number" && Number.isFinite(n) && n >= 0 ? n : 0);
  return {
    cpuNs: count(usage.cpuNs),
    memoryBytes: count(usage.memoryBytes),
    memoryLimitBytes: parseQuantity(limit),
    pids: count(usage.pids),
    networkRxBytes: count(usage.networkRxBytes),
    networkTxBytes: count(usage.networkTxBytes),
    // The writable layer's size is the runtime's to know; no namespace-scoped API gives it.
    diskBytes: 0,
  };
}
