import type { V1NodeList, V1ResourceQuotaList } from "@kubernetes/client-node";
import { parseQuantity } from "./pod-spec.ts";

/**
 * What sandboxes in the namespace may use at most: the smallest of its
 * ResourceQuotas' limits (a tenant's real bound, readable with a
 * namespace-scoped role), else the nodes' capacity when the identity may list
 * nodes (an optional cluster-wide read), else 0 (unknown).
 */
export async function namespaceCapacity(
  quotas: () => Promise<V1ResourceQuotaList>,
  nodes: () => Promise<V1NodeList>,
): Promise<{ cpus: number; memoryBytes: number }> {
  const hard = (await quotas()).items.map((q) => q.status?.hard ?? q.spec?.hard ?? {});
  const smallest = (keys: string[]) => {
    const values = hard.flatMap((h) => keys.map((k) => h[k]).filter((v) => v !== undefined)).map(parseQuantity);
    return values.length > 0 ? Math.min(...values) : undefined;
  };
  const cpus = smallest(["limits.cpu", "cpu"]);
  const memoryBytes = smallest(["limits.memory", "memory"]);
  if (cpus !== undefined && memoryBytes !== undefined) return { cpus, memoryBytes };
  const listed = await nodes().catch(() => undefined);
  const sum = (key: "cpu" | "memory") =>
    (listed?.items ?? []).reduce((total, n) => total + parseQuantity(n.status?.capacity?.[key]), 0);
  return { cpus: cpus ?? sum("cpu"), memoryBytes: memoryBytes ?? sum("memory") };
}
