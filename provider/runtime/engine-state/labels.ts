/**
 * Every object sandfleet makes carries these labels, so that listing, garbage
 * collection and drift detection find what they own without guessing.
 */
export const LABEL = {
  managed: "sandfleet.managed",
  app: "sandfleet.app",
  kind: "sandfleet.kind",
  name: "sandfleet.name",
  owner: "sandfleet.owner",
  timeoutMs: "sandfleet.timeout-ms",
  idleTimeoutMs: "sandfleet.idle-timeout-ms",
  idleAction: "sandfleet.idle-action",
  readiness: "sandfleet.readiness",
  source: "sandfleet.source",
  pool: "sandfleet.pool",
  template: "sandfleet.template",
  replicas: "sandfleet.replicas",
  rollout: "sandfleet.rollout",
  poolTemplate: "sandfleet.pool-template",
  member: "sandfleet.member",
  claimedAt: "sandfleet.claimed-at",
  claimLatencyMs: "sandfleet.claim-latency-ms",
  maker: "sandfleet.maker",
  resource: "sandfleet.resource",
  supervisor: "sandfleet.supervisor",
  sandbox: "sandfleet.sandbox",
  setAt: "sandfleet.set-at",
  expiresAt: "sandfleet.expires-at",
  deadline: "sandfleet.deadline",
  webhooks: "sandfleet.webhooks",
  egress: "sandfleet.egress",
  egressNetwork: "sandfleet.egress-network",
  egressDaemon: "sandfleet.egress-daemon",
  egressDaemonVersion: "sandfleet.egress-daemon-version",
  /** The key that names the daemon's nftables tables (egress-tables.ts); absent on an older daemon's, which used the legacy names. */
  egressDaemonTables: "sandfleet.egress-daemon-tables",
  tokenId: "sandfleet.token-id",
  tokenHash: "sandfleet.token-sha256",
  port: "sandfleet.port",
  tagPrefix: "sandfleet.tag.",
} as const;

export type ObjectKind =
  | "sandbox"
  | "network"
  | "volume"
  | "image"
  | "snapshot"
  | "pool"
  | "claim"
  | "tags"
  | "deadline"
  | "webhooks"
  | "connect"
  | "egress"
  | "lock";

export function ownershipLabels(
  app: string,
  kind: ObjectKind,
  extra: Record<string, string> = {},
): Record<string, string> {
  return { [LABEL.managed]: "true", [LABEL.app]: app, [LABEL.kind]: kind, ...extra };
}

/** The labels that find every object of a kind sandfleet made, or only the app's. */
export function scopeLabels(kind: ObjectKind, app?: string): Record<string, string> {
  return { [LABEL.managed]: "true", [LABEL.kind]: kind, ...(app ? { [LABEL.app]: app } : {}) };
}

export function tagLabels(tags: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(tags).map(([k, v]) => [LABEL.tagPrefix + k, v]));
}

export function tagsFromLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(labels)
      .filter(([k]) => k.startsWith(LABEL.tagPrefix))
      .map(([k, v]) => [k.slice(LABEL.tagPrefix.length), v]),
  );
}
