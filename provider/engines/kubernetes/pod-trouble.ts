import type { V1Pod, V1PodCondition } from "@kubernetes/client-node";
import type { ContainerTrouble } from "../port.ts";
import { SANDBOX_CONTAINER } from "./pod-spec.ts";

/*
 * What the cluster says is wrong with a pod that its own state does not: its
 * node was lost, the kubelet evicted it, or it stopped being Ready. Read off
 * the pod alone (sandfleet's role reads nothing cluster-wide, so no nodes):
 *
 * - Evicted by the kubelet (a bound exceeded, the node short of a resource):
 *   phase Failed, reason "Evicted", the message naming the resource.
 * - Evicted otherwise: the DisruptionTarget condition says who (the Eviction
 *   API, the scheduler preempting it, the taint manager for a lost node).
 * - Its node lost: sandbox pods tolerate the unreachable and not-ready taints
 *   for 0 s (pod-spec.ts), so the taint manager deletes them the moment the
 *   cluster marks the node; the pod stays, Terminating, since its kubelet
 *   never confirms. Before that, or for a pod that tolerates longer, the node
 *   lifecycle controller's mark says it (markedNotReady).
 */

const NODE_LOST = "node-lost";

/** What a pod reports that ended without its container saying how (its node lost): killed, as a kill reports. */
export const LOST_EXIT_CODE = 137;

/** DisruptionTarget reasons, as Kubernetes names them, and what sandfleet calls the end. */
const DISRUPTIONS: Readonly<Record<string, string>> = {
  DeletionByTaintManager: NODE_LOST,
  EvictionByEvictionAPI: "evicted: api",
  PreemptionByScheduler: "evicted: preempted",
  TerminationByKubelet: "evicted: node-shutdown",
};

/** The resource a kubelet's eviction message names: what the end reason says after "evicted: ". */
export function evictedResource(message: string): string {
  if (/ephemeral|storage|disk|nodefs|imagefs|inode/i.test(message)) return "disk";
  if (/memory/i.test(message)) return "memory";
  if (/pid/i.test(message)) return "pids";
  return "node-pressure";
}

/** A reason Kubernetes adds later (CamelCase) in the words of the others: "SomeNewCause" → "some-new-cause". */
function kebab(reason: string): string {
  return reason
    .replace(/([a-z0-9])([A-Z])/g, "$1-$2")
    .toLowerCase()
    .replace(/[^a-z-]/g, "")
    .slice(0, 30);
}

function condition(pod: V1Pod, type: string): V1PodCondition | undefined {
  return pod.status?.conditions?.find((c) => c.type === type);
}

const ms = (value: Date | string | undefined): number | undefined => (value ? new Date(value).getTime() : undefined);

/**
 * The node lifecycle controller's mark on a pod of a node it lost: it only
 * turns the Ready condition False, keeping the reason-less condition the
 * kubelet last wrote, while the kubelet's own last word on the container
 * is still "ready". A kubelet never says that of itself: its Ready False
 * always has a reason (ContainersNotReady, PodCompleted), and a pod it is
 * ending is no longer Running.
 */
function markedNotReady(pod: V1Pod): boolean {
  const sandbox = pod.status?.containerStatuses?.find((c) => c.name === SANDBOX_CONTAINER);
  return (
    clusterMarked(pod) &&
    pod.status?.phase === "Running" &&
    !pod.metadata?.deletionTimestamp &&
    sandbox?.state?.running !== undefined
  );
}

/** The mark itself: Ready False with no reason, the container last said ready. */
function clusterMarked(pod: V1Pod): boolean {
  const ready = condition(pod, "Ready");
  const sandbox = pod.status?.containerStatuses?.find((c) => c.name === SANDBOX_CONTAINER);
  return ready?.status === "False" && !ready.reason && sandbox?.ready === true;
}

/**
 * When a pod's node was lost: the first of the cluster's two marks (its pods
 * not ready, its eviction), so that the time is the same whichever was read.
 */
function lostSince(pod: V1Pod): number | undefined {
  const ready = condition(pod, "Ready");
  // A pod that never was Ready has been not ready since it started, long before its node was lost.
  const times = [
    clusterMarked(pod) ? ms(ready?.lastTransitionTime) : undefined,
    ms(condition(pod, "DisruptionTarget")?.lastTransitionTime),
  ].filter((t): t is number => t !== undefined);
  return times.length ? Math.min(...times) : undefined;
}

/** Why the pod cannot serve, though its own state may still say running; undefined when nothing is wrong. */
export function podTrouble(pod: V1Pod): ContainerTrouble | undefined {
  const trouble = readTrouble(pod);
  // The cluster's words end up on terminals (the agent's log, `sandfleet events`): printable only.
  return trouble && { ...trouble, detail: trouble.detail.replace(/[\p{Cc}\p{Cf}]/gu, " ") };
}

function readTrouble(pod: V1Pod): ContainerTrouble | undefined {
  const id = pod.metadata?.name ?? "";
  const node = pod.spec?.nodeName;
  const on = node ? ` on node ${node}` : "";
  const sandbox = pod.status?.containerStatuses?.find((c) => c.name === SANDBOX_CONTAINER);
  const terminatedMs = ms(sandbox?.state?.terminated?.finishedAt);
  // A trouble's time is the cluster's first mark of it, never a later one: an event told from it is told once.

  if (pod.status?.reason === "Evicted") {
    const message = pod.status.message ?? "";
    return {
      reason: `evicted: ${evictedResource(message)}`,
      detail: `pod ${id}${on} was evicted by its kubelet: ${message || "no reason given"}`,
      ended: true,
      sinceMs: ms(condition(pod, "DisruptionTarget")?.lastTransitionTime) ?? terminatedMs,
      node,
    };
  }
  const disruption = condition(pod, "DisruptionTarget");
  if (disruption?.status === "True") {
    const reason = DISRUPTIONS[disruption.reason ?? ""] ?? `evicted: ${kebab(disruption.reason ?? "unknown")}`;
    return {
      reason,
      detail:
        reason === NODE_LOST
          ? `pod ${id}${on}: the node is lost (the cluster marked it unreachable or not ready)`
          : `pod ${id}${on} was evicted: ${disruption.message ?? disruption.reason ?? ""}`.trim(),
      ended: true,
      sinceMs: reason === NODE_LOST ? lostSince(pod) : ms(disruption.lastTransitionTime),
      node,
    };
  }
  if (markedNotReady(pod)) {
    return {
      reason: NODE_LOST,
      detail: `pod ${id}${on}: the node stopped reporting (the cluster marked its pods not ready)`,
      ended: true,
      sinceMs: lostSince(pod),
      node,
    };
  }
  const ready = condition(pod, "Ready");
  if (ready?.status === "True" || !sandbox?.state?.running || sandbox.ready) return undefined;
  // Ready once and no longer (a failing probe): one that has not yet been ready is only starting.
  const startedMs = ms(sandbox.state.running.startedAt) ?? 0;
  const changedMs = ms(ready?.lastTransitionTime) ?? 0;
  if (ready?.status === "False" && changedMs > startedMs) {
    return {
      reason: "not-ready",
      detail: `pod ${id}${on} is not ready: ${ready.message ?? ready.reason ?? "its probe fails"}`,
      ended: false,
      sinceMs: changedMs,
      node,
    };
  }
  return undefined;
}
