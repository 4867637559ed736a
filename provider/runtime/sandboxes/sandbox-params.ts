import type { KubernetesEngineOptions } from "../../engines/connect.ts";
import { egressNetworkName, type EgressPolicy } from "../networks/egress-rules.ts";
import type { ContainerSpec } from "../../engines/port.ts";
import { healthCheckFor, READINESS_DEFAULTS, type ReadinessParams } from "../engine-state/readiness.ts";
import { tagLabels, ownershipLabels, LABEL } from "../engine-state/labels.ts";
import { appNetworkName, containerName } from "../engine-state/names.ts";

// The rules live in sandbox-rules.ts (and the bounds in rules.ts); these names are where callers have found them.
export { MAX_DURATION_MS, wholeSecondsProblem } from "../../rules.ts";
export { argvProblems, mapProblems, sandboxParamsProblems, type PropertyProblem } from "./sandbox-rules.ts";

export type SandboxRuntime = "runc" | "runsc";
export type SandboxNetwork = "none" | "app";
export type IdleAction = "terminate" | "pause";

/** What a sandbox is made of. The same fields serve the runtime API and the Sandbox resource. */
export interface SandboxParams {
  /** Name of the app that owns the sandbox. */
  app: string;
  /** Local image reference, e.g. `sandfleet/python`. */
  image: string;
  /** Unique within the app; omitted, the sandbox gets a generated name. */
  name?: string;
  /** Command to run; defaults to one that keeps the sandbox alive for execs. */
  command?: string[];
  /** Replaces the image's entrypoint. */
  entrypoint?: string[];
  /** Environment variables. */
  env?: Record<string, string>;
  /** Absolute working directory. */
  workdir?: string;
  /** CPU limit in cores (fractions allowed). Default 1. */
  cpu?: number;
  /** Memory limit in MiB, swap included. Default 512. */
  memoryMiB?: number;
  /** Maximum number of processes. Default 256. */
  pidsLimit?: number;
  /**
   * Disk for the writable layer in MiB. Default 10240 (10 GiB) where the
   * engine's storage can bound it; on an engine that cannot, giving it is an error.
   */
  diskMiB?: number;
  /** User to run as (name or uid[:gid]); default the image's. */
  user?: string;
  /** Mount the root filesystem read-only (with a writable tmpfs on /tmp). Default false. */
  readOnlyRootfs?: boolean;
  /** "none" (default): no network at all; "app": the app's private network. */
  network?: SandboxNetwork;
  /** OCI runtime: "runc" (default) or "runsc" (gVisor). */
  runtime?: SandboxRuntime;
  /** Free-form tags, for listing and lookups. */
  tags?: Record<string, string>;
  /** Named Docker volumes to mount. */
  volumes?: SandboxVolumeMount[];
  /** Environment variables from secrets: never printed, kept encrypted by Pulumi. */
  secretEnv?: Record<string, string>;
  /** TCP ports to publish on 127.0.0.1 (needs `network: "app"`). */
  ports?: number[];
  /** How to tell the sandbox is ready; `pulumi up` waits for it. */
  readiness?: ReadinessParams;
  /** Maximum lifetime in ms; a sandbox ended by it reports exit code 124. */
  timeoutMs?: number;
  /** Ends the sandbox after this long with no exec running, no stdin written and no tunnel connection. */
  idleTimeoutMs?: number;
  /**
   * What an idle timeout does: "terminate" (default) ends the sandbox (exit
   * code 124); "pause" freezes it, keeping its memory and files, until the
   * next exec, file call or tunnel connection. Pausing is done by
   * `sandfleet agent`, which must run.
   */
  idleAction?: IdleAction;
  /**
   * Reach only these destinations: domains, `*.domain` wildcards, IPv4
   * addresses and CIDRs; only allowed names resolve. Gives the sandbox the
   * app's egress network (instead of `network`). The list can change on a
   * live sandbox (`setEgress`).
   */
  egress?: EgressPolicy;
  /** Docker engine to use (DOCKER_HOST forms); default the local one. */
  dockerHost?: string;
  /** A Kubernetes cluster to run on instead of a Docker engine. */
  kubernetes?: KubernetesEngineOptions;
  /**
   * Run sandfleet's supervisor as the sandbox's PID 1 (default true): execs
   * and file calls at process speed, PTYs, idle timeouts kept inside the
   * sandbox. false runs the image as the engine would, with every exec an
   * engine exec: for images the supervisor cannot run in.
   */
  supervisor?: boolean;
}

export interface SandboxVolumeMount {
  /** Absolute path inside the sandbox. */
  mountPath: string;
  /** Name of the Docker volume. */
  volume: string;
  readOnly?: boolean;
  /**
   * A folder inside the volume to mount instead of all of it, relative (no
   * `..`). Needs an engine that speaks Engine API 1.45 (Docker 26) or newer.
   */
  subPath?: string;
}

/** SandboxParams with every default filled in: what diffs compare. */
type OptionalKeys =
  | "name"
  | "entrypoint"
  | "workdir"
  | "user"
  | "dockerHost"
  | "kubernetes"
  | "readiness"
  | "timeoutMs"
  | "idleTimeoutMs"
  | "idleAction"
  | "egress"
  | "diskMiB";
export type NormalizedSandboxParams = Required<Omit<SandboxParams, OptionalKeys>> & Pick<SandboxParams, OptionalKeys>;

export const SANDBOX_DEFAULTS = {
  command: ["sleep", "infinity"],
  cpu: 1,
  memoryMiB: 512,
  pidsLimit: 256,
  readOnlyRootfs: false,
  network: "none",
  runtime: "runc",
  supervisor: true,
} as const;

export function normalizeSandboxParams(params: SandboxParams): NormalizedSandboxParams {
  return {
    app: params.app,
    image: params.image,
    ...(params.name !== undefined ? { name: params.name } : {}),
    command: params.command ?? [...SANDBOX_DEFAULTS.command],
    ...(params.entrypoint !== undefined ? { entrypoint: params.entrypoint } : {}),
    env: sortedRecord(params.env ?? {}),
    ...(params.workdir !== undefined ? { workdir: params.workdir } : {}),
    cpu: params.cpu ?? SANDBOX_DEFAULTS.cpu,
    memoryMiB: params.memoryMiB ?? SANDBOX_DEFAULTS.memoryMiB,
    pidsLimit: params.pidsLimit ?? SANDBOX_DEFAULTS.pidsLimit,
    ...(params.diskMiB !== undefined ? { diskMiB: params.diskMiB } : {}),
    ...(params.user !== undefined ? { user: params.user } : {}),
    readOnlyRootfs: params.readOnlyRootfs ?? SANDBOX_DEFAULTS.readOnlyRootfs,
    network: params.network ?? SANDBOX_DEFAULTS.network,
    runtime: params.runtime ?? SANDBOX_DEFAULTS.runtime,
    tags: sortedRecord(params.tags ?? {}),
    volumes: [...(params.volumes ?? [])]
      .map((m) => ({
        mountPath: m.mountPath,
        volume: m.volume,
        readOnly: m.readOnly ?? false,
        ...(m.subPath !== undefined ? { subPath: m.subPath } : {}),
      }))
      .sort((a, b) => (a.mountPath < b.mountPath ? -1 : 1)),
    secretEnv: sortedRecord(params.secretEnv ?? {}),
    ports: [...(params.ports ?? [])].sort((a, b) => a - b),
    ...(params.readiness !== undefined
      ? {
          readiness: {
            ...(params.readiness.tcpPort !== undefined ? { tcpPort: params.readiness.tcpPort } : {}),
            ...(params.readiness.exec !== undefined ? { exec: params.readiness.exec } : {}),
            intervalMs: params.readiness.intervalMs ?? READINESS_DEFAULTS.intervalMs,
            timeoutMs: params.readiness.timeoutMs ?? READINESS_DEFAULTS.timeoutMs,
          },
        }
      : {}),
    ...(params.timeoutMs !== undefined ? { timeoutMs: params.timeoutMs } : {}),
    ...(params.idleTimeoutMs !== undefined ? { idleTimeoutMs: params.idleTimeoutMs } : {}),
    // "terminate" is the default: written or not, the same sandbox.
    ...(params.idleAction === "pause" ? { idleAction: params.idleAction } : {}),
    ...(params.egress ? { egress: { allow: [...params.egress.allow] } } : {}),
    ...(params.dockerHost !== undefined ? { dockerHost: params.dockerHost } : {}),
    ...(params.kubernetes !== undefined ? { kubernetes: params.kubernetes } : {}),
    supervisor: params.supervisor ?? SANDBOX_DEFAULTS.supervisor,
  };
}

/**
 * The container for a sandbox, secure by default: no network unless asked,
 * every capability dropped, no-new-privileges, cpu, memory and pids limits,
 * never privileged, no Docker socket, no host mounts.
 */
export function sandboxContainerSpec(
  params: NormalizedSandboxParams,
  generatedName: string,
  owner?: string,
): ContainerSpec {
  const name = params.name ?? generatedName;
  return {
    name: containerName(params.app, name),
    image: params.image,
    cmd: params.command,
    ...(params.entrypoint ? { entrypoint: params.entrypoint } : {}),
    env: { ...params.env, ...params.secretEnv },
    labels: {
      ...tagLabels(params.tags),
      ...ownershipLabels(params.app, "sandbox", {
        [LABEL.name]: name,
        ...(owner ? { [LABEL.owner]: owner } : {}),
        ...(params.timeoutMs !== undefined ? { [LABEL.timeoutMs]: String(params.timeoutMs) } : {}),
        ...(params.idleTimeoutMs !== undefined ? { [LABEL.idleTimeoutMs]: String(params.idleTimeoutMs) } : {}),
        ...(params.idleAction ? { [LABEL.idleAction]: params.idleAction } : {}),
        ...(params.egress ? { [LABEL.egress]: JSON.stringify(params.egress.allow) } : {}),
        ...(params.readiness ? { [LABEL.readiness]: JSON.stringify(params.readiness) } : {}),
      }),
    },
    ...(params.workdir ? { workdir: params.workdir } : {}),
    ...(params.user ? { user: params.user } : {}),
    nanoCpus: Math.round(params.cpu * 1e9),
    memoryBytes: params.memoryMiB * 1024 * 1024,
    pidsLimit: params.pidsLimit,
    ...(params.diskMiB !== undefined ? { diskBytes: params.diskMiB * 1024 * 1024 } : {}),
    readOnlyRootfs: params.readOnlyRootfs,
    networkMode: params.egress
      ? egressNetworkName(params.app)
      : params.network === "app"
        ? appNetworkName(params.app)
        : "none",
    capDrop: ["ALL"],
    securityOpt: ["no-new-privileges"],
    runtime: params.runtime,
    // Without an init, orphans of execs stay zombies and use up the pids limit.
    init: true,
    healthcheck: healthCheckFor(params.readiness),
    ...(params.readOnlyRootfs ? { tmpfs: { "/tmp": "rw,nosuid,nodev,size=64m" } } : {}),
    mounts: params.volumes.map((m) => ({
      volume: m.volume,
      target: m.mountPath,
      readOnly: m.readOnly ?? false,
      ...(m.subPath !== undefined ? { subPath: m.subPath } : {}),
    })),
    ports: params.ports,
  };
}

function sortedRecord(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
