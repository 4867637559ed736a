// `sandfleet agent --leader-elect LEASE`: of the replicas that share a lease,
// only the one holding it makes passes (and delivers webhooks); the others
// wait to take over. The log and the metrics say who leads.
import {
  kubernetesFromEnvironment,
  kubernetesLeaseStore,
  leaderElection,
  markHostGone,
  podGone,
  parseDuration,
  type Agent,
  type AgentMetrics,
} from "../../index.ts";
import { stringOption, UsageError, type Values } from "../verb.ts";

export interface LeaderOptions {
  lease: string;
  /** Where the lease is; default the engine's namespace. */
  namespace: string | undefined;
  identity: string;
  durationMs: number;
}

const LEASE_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
/** From 3 s (a renewal every second still fits twice) to 5 minutes (a longer one leaves pools unrefilled for long). */
const LEASE_DURATION_MS = { min: 3_000, max: 300_000 };

/** The election the options ask for, or undefined without --leader-elect. */
export function leaderOptions(values: Values, defaultIdentity: string): LeaderOptions | undefined {
  const lease = stringOption(values, "leader-elect");
  const duration = stringOption(values, "lease-duration");
  const namespace = stringOption(values, "lease-namespace");
  const identity = stringOption(values, "identity") ?? process.env.POD_NAME ?? defaultIdentity;
  if (lease === undefined) {
    if (duration !== undefined || namespace !== undefined || values.identity !== undefined)
      throw new UsageError("--lease-duration, --lease-namespace and --identity go with --leader-elect LEASE");
    return undefined;
  }
  if (lease.length > 253 || !LEASE_NAME.test(lease))
    throw new UsageError(
      `--leader-elect ${JSON.stringify(lease)} is not a lease name (lowercase letters, digits, - and .)`,
    );
  const durationMs = duration === undefined ? 15_000 : parseDuration(duration);
  if (durationMs === undefined || durationMs < LEASE_DURATION_MS.min || durationMs > LEASE_DURATION_MS.max)
    throw new UsageError(`--lease-duration ${duration ?? ""} must be a duration from 3s to 5m`);
  if (identity === "" || identity.length > 253 || /[\s\p{C}]/u.test(identity))
    throw new UsageError(
      `--identity ${JSON.stringify(identity)} must be a name without spaces, at most 253 characters`,
    );
  if (namespace !== undefined && (namespace.length > 63 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace)))
    throw new UsageError(`--lease-namespace ${JSON.stringify(namespace)} is not a namespace name`);
  return { lease, namespace, identity, durationMs };
}

export async function electedAgent(
  leader: LeaderOptions,
  run: {
    signal: AbortSignal;
    makeAgent: () => Agent;
    say: (event: { action: string; detail?: string }) => void;
    metrics: AgentMetrics | undefined;
  },
): Promise<void> {
  const target = kubernetesFromEnvironment();
  if (!target)
    throw new UsageError(
      "--leader-elect keeps its lease in a Kubernetes namespace: set SANDFLEET_KUBERNETES=context/namespace",
    );
  const leading = run.metrics ? await leaderGauge(run.metrics, leader.identity) : undefined;
  const leaseTarget = { ...target, ...(leader.namespace ? { namespace: leader.namespace } : {}) };
  // A replica whose lease lapsed and whose pod is gone left its pool locks and pending members to
  // nobody: once the cluster has removed its pod, they are taken over at once, not after their timeouts.
  const watchGone = async (previous: string) => {
    for (let look = 0; look < 150 && !run.signal.aborted; look++) {
      if (await podGone(leaseTarget, previous).catch(() => false)) {
        markHostGone(previous);
        run.say({ action: "replica-gone", detail: `${previous} is gone: what it was making is taken over` });
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  };
  leading?.(false);
  const election = leaderElection({
    identity: leader.identity,
    store: kubernetesLeaseStore(leaseTarget, leader.lease),
    durationMs: leader.durationMs,
    onChange(change) {
      switch (change.state) {
        case "leading":
          leading?.(true);
          run.say({
            action: "leading",
            detail: `${change.identity} leads (lease ${leader.lease}, transitions ${String(change.transitions)}${change.previous ? `, after ${change.previous}, whose lease lapsed` : ""})`,
          });
          if (change.previous) void watchGone(change.previous);
          break;
        case "following":
          run.say({
            action: "following",
            detail: `${change.leader} leads (lease ${leader.lease}); ${leader.identity} waits`,
          });
          break;
        case "stopped-leading":
          leading?.(false);
          run.say({ action: "stopped-leading", detail: `${change.identity} no longer leads: ${change.reason}` });
          break;
        case "error":
          run.say({ action: "error", detail: change.detail });
      }
    },
  });
  await election.run(run.signal, (term) => run.makeAgent().run(term));
}

/** sandfleet_agent_leader{identity}: 1 on the replica that leads, 0 on the others. */
async function leaderGauge(metrics: AgentMetrics, identity: string): Promise<(leading: boolean) => void> {
  const { Gauge } = await import("prom-client");
  const gauge = new Gauge({
    name: "sandfleet_agent_leader",
    help: "1 when this agent replica holds the leader lease (and makes the passes), else 0",
    labelNames: ["identity"],
    registers: [metrics.registry],
  });
  return (leading) => {
    gauge.set({ identity }, leading ? 1 : 0);
  };
}
