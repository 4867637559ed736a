// The agent's leader lease as a coordination.k8s.io Lease in sandfleet's
// namespace: every write is conditioned on the resourceVersion read, so two
// replicas that both saw it free cannot both take it.
import type { V1Lease } from "@kubernetes/client-node";
import { ConflictError } from "../../errors.ts";
import type { LeaseRecord, LeaseStore } from "../lease.ts";
import { kubeApis } from "./api.ts";
import { kubeCalls } from "./errors.ts";
import { kubernetesHost, type KubernetesTarget } from "./target.ts";

/** Whether the pod `name` is gone from the target's namespace (removed, not merely stopping). */
export async function podGone(target: KubernetesTarget, name: string): Promise<boolean> {
  const { core, namespace } = await kubeApis(target)();
  const { lookup } = kubeCalls(kubernetesHost(target));
  return (await lookup(`read pod ${name}`, () => core.readNamespacedPod({ name, namespace }))) === undefined;
}

export function kubernetesLeaseStore(target: KubernetesTarget, name: string): LeaseStore {
  const apis = kubeApis(target);
  const { call, lookup } = kubeCalls(kubernetesHost(target));
  const coordination = async () => {
    const { coordination: api, namespace } = await apis();
    return { api, namespace };
  };
  const body = (record: LeaseRecord, version?: string): V1Lease => {
    // The API's MicroTime: RFC 3339 with six digits of fraction (a Date in the type, a string on the wire).
    const renewed = microTime(record.renewedAt) as unknown as Date;
    return {
      metadata: { name, ...(version ? { resourceVersion: version } : {}) },
      spec: {
        ...(record.holder ? { holderIdentity: record.holder } : {}),
        leaseDurationSeconds: Math.max(1, Math.round(record.durationMs / 1000)),
        leaseTransitions: record.transitions,
        renewTime: renewed,
        ...(record.holder ? { acquireTime: renewed } : {}),
      },
    };
  };
  /** A write that lost the race to another replica's: false, not an error. */
  const unlessConflict = async (write: () => Promise<unknown>): Promise<boolean> => {
    try {
      await write();
      return true;
    } catch (error) {
      if (error instanceof ConflictError) return false;
      throw error;
    }
  };
  return {
    async read() {
      const { api, namespace } = await coordination();
      const lease = await lookup(`read lease ${name}`, () => api.readNamespacedLease({ name, namespace }));
      if (!lease) return undefined;
      const renewed = lease.spec?.renewTime;
      return {
        holder: lease.spec?.holderIdentity ?? "",
        durationMs: (lease.spec?.leaseDurationSeconds ?? 15) * 1000,
        transitions: lease.spec?.leaseTransitions ?? 0,
        renewedAt: renewed ? new Date(renewed).toISOString() : "",
        version: lease.metadata?.resourceVersion ?? "",
      };
    },
    async create(record) {
      const { api, namespace } = await coordination();
      const lease = body(record);
      return unlessConflict(() =>
        call(`create lease ${name}`, () => api.createNamespacedLease({ namespace, body: lease })),
      );
    },
    async replace(record, version) {
      const { api, namespace } = await coordination();
      const lease = body(record, version);
      return unlessConflict(() =>
        call(`update lease ${name}`, () => api.replaceNamespacedLease({ name, namespace, body: lease })),
      );
    },
  };
}

/** An instant as the API's MicroTime: 2026-01-02T03:04:05.678000Z. */
export function microTime(instant: string): string {
  return new Date(Date.parse(instant)).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}
