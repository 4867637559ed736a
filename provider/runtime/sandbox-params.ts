import type { KubernetesEngineOptions } from "../engines/connect.ts";
import {
  egressEntryProblem,
  egressNetworkName,
  egressSettingProblems,
  MAX_EGRESS_ENTRIES,
  type EgressPolicy,
} from "./egress-rules.ts";
import type { ContainerSpec } from "../engines/port.ts";
import { DISK_MIB, LIMITS, MEMORY_MIB, ruleProblem, type RuleName } from "../rules.ts";
import { healthCheckFor, READINESS_DEFAULTS, type ReadinessParams } from "./readiness.ts";
import { tagLabels, ownershipLabels, LABEL } from "./labels.ts";
import { appNetworkName, containerName, nameProblem } from "./names.ts";

export type SandboxRuntime = "runc" | "runsc";
export type SandboxNetwork = "none" | "app";
export type IdleAction = "terminate" | "pause";
const IDLE_ACTIONS: readonly unknown[] = ["terminate", "pause"] satisfies IdleAction[];

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

/** Longest lifetime, idle time or readiness wait a sandbox may ask for: 24 hours. */
export const MAX_DURATION_MS = 24 * 60 * 60 * 1000;

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

/**
 * A lifetime or a timeout is whole seconds, as Modal has it: 1500 ms is
 * refused rather than rounded, and 0 or less is never "no timeout".
 */
export function wholeSecondsProblem(value: unknown): string | undefined {
  if (typeof value !== "number" || !Number.isFinite(value)) return "must be a number of ms";
  if (value <= 0) return `must be positive (got ${String(value)})`;
  if (!Number.isInteger(value / 1000)) return `must be a multiple of 1000 ms, whole seconds (got ${String(value)})`;
  if (value > MAX_DURATION_MS) return `must be at most ${String(MAX_DURATION_MS)} ms (24h) (got ${String(value)})`;
  return undefined;
}

export interface PropertyProblem {
  property: string;
  reason: string;
}

/** Every problem with the parameters, one per property, before anything touches the engine. */
export function sandboxParamsProblems(params: Readonly<Record<string, unknown>>): PropertyProblem[] {
  const problems: PropertyProblem[] = [];
  const problem = (property: string, reason: string) => problems.push({ property, reason });
  const ruled = (property: string, rule: RuleName, value: unknown) => {
    const reason = ruleProblem(rule, value);
    if (reason) problem(property, reason);
  };

  if (typeof params.app !== "string") problem("app", "is required");
  else {
    const p = nameProblem(params.app);
    if (p) problem("app", p);
  }
  if (typeof params.image !== "string" || params.image.trim() === "") problem("image", "is required");
  else ruled("image", "line", params.image);
  if (params.name !== undefined) {
    const p = typeof params.name === "string" ? nameProblem(params.name) : "must be a string";
    if (p) problem("name", p);
  }
  for (const key of ["command", "entrypoint"] as const) {
    if (params[key] !== undefined) problems.push(...argvProblems(key, params[key]));
  }
  if (params.workdir !== undefined) ruled("workdir", "absolutePath", params.workdir);
  if (params.user !== undefined) ruled("user", "user", params.user);
  if (params.supervisor !== undefined && typeof params.supervisor !== "boolean")
    problem("supervisor", "must be true or false");
  if (params.cpu !== undefined && !(typeof params.cpu === "number" && params.cpu >= 0.01 && params.cpu <= 1024)) {
    problem("cpu", "must be a number of cores between 0.01 and 1024");
  }
  problems.push(
    ...wholeMiBProblems("memoryMiB", params.memoryMiB, MEMORY_MIB),
    ...wholeMiBProblems("diskMiB", params.diskMiB, DISK_MIB),
  );
  if (
    params.pidsLimit !== undefined &&
    !(typeof params.pidsLimit === "number" && Number.isInteger(params.pidsLimit) && params.pidsLimit >= 1)
  ) {
    problem("pidsLimit", "must be a whole number, at least 1");
  }
  if (params.network !== undefined && params.network !== "none" && params.network !== "app") {
    problem("network", 'must be "none" or "app"');
  }
  if (params.runtime !== undefined && params.runtime !== "runc" && params.runtime !== "runsc") {
    problem("runtime", 'must be "runc" or "runsc"');
  }
  if (params.runtime === "runsc" && params.network === "app") {
    problem(
      "runtime",
      "runsc (gVisor) is registered without networking on this engine; use runc for a networked sandbox",
    );
  }
  problems.push(
    ...mapProblems("env", params.env, "variableName", "text"),
    ...mapProblems("tags", params.tags, "tagKey", "tagValue"),
  );
  problems.push(...egressProblems(params.egress, params.network, params.runtime));
  problems.push(
    ...mountProblems(params.volumes),
    ...portProblems(params.ports, params.egress !== undefined ? "egress" : params.network),
  );
  if (params.readiness !== undefined) problems.push(...readinessProblems(params.readiness, params.ports));
  for (const key of ["timeoutMs", "idleTimeoutMs"] as const) {
    const reason = params[key] === undefined ? undefined : wholeSecondsProblem(params[key]);
    if (reason) problem(key, reason);
  }
  if (params.idleAction !== undefined && !IDLE_ACTIONS.includes(params.idleAction)) {
    problem("idleAction", 'must be "terminate" or "pause"');
  } else if (params.idleAction === "pause" && params.idleTimeoutMs === undefined) {
    problem("idleAction", "pause needs an idleTimeoutMs, after which the sandbox is paused");
  }
  // Values are never named in a message: they are secrets (and mapProblems names none).
  problems.push(...mapProblems("secretEnv", params.secretEnv, "variableName", "text"));
  const { env, secretEnv } = params;
  if (isStringMap(env) && isStringMap(secretEnv)) {
    for (const k of Object.keys(secretEnv)) {
      if (k in env) problem(`env.${k}`, "is also set by a secret; set it in one place");
    }
  }
  return problems;
}

/** A size in whole MiB within its bounds (rules.ts). */
function wholeMiBProblems(property: string, value: unknown, range: { min: number; max: number }): PropertyProblem[] {
  if (value === undefined) return [];
  const within = typeof value === "number" && Number.isInteger(value) && value >= range.min && value <= range.max;
  if (within) return [];
  return [{ property, reason: `must be a whole number of MiB from ${String(range.min)} to ${String(range.max)}` }];
}

function isStringMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A map of strings: its size, each key by one rule and each value by another. */
export function mapProblems(property: string, map: unknown, keyRule: RuleName, valueRule: RuleName): PropertyProblem[] {
  if (map === undefined) return [];
  if (!isStringMap(map)) return [{ property, reason: "must be a map of strings" }];
  const entries = Object.entries(map);
  if (entries.length > LIMITS.mapEntries) {
    return [
      { property, reason: `must have at most ${String(LIMITS.mapEntries)} entries (has ${String(entries.length)})` },
    ];
  }
  return entries.flatMap(([k, v]) => {
    const reason = ruleProblem(keyRule, k) ?? (typeof v === "string" ? ruleProblem(valueRule, v) : "must be a string");
    return reason ? [{ property: `${property}.${k}`, reason }] : [];
  });
}

/** A command line as a list: not empty, not too long, no NUL in any item. */
export function argvProblems(property: string, argv: unknown): PropertyProblem[] {
  if (!Array.isArray(argv) || argv.length === 0) return [{ property, reason: "must be a non-empty list of strings" }];
  if (argv.length > LIMITS.argvItems) {
    return [{ property, reason: `must have at most ${String(LIMITS.argvItems)} items (has ${String(argv.length)})` }];
  }
  return argv.flatMap((item: unknown, i) => {
    const reason = ruleProblem("text", item);
    return reason ? [{ property: `${property}[${String(i)}]`, reason }] : [];
  });
}

function mountProblems(volumes: unknown): PropertyProblem[] {
  if (volumes === undefined) return [];
  if (!Array.isArray(volumes)) return [{ property: "volumes", reason: "must be a list of mounts" }];
  const problems: PropertyProblem[] = [];
  const seen = new Set<string>();
  if (volumes.length > LIMITS.mounts) {
    return [
      {
        property: "volumes",
        reason: `must have at most ${String(LIMITS.mounts)} items (has ${String(volumes.length)})`,
      },
    ];
  }
  volumes.forEach((mount: Record<string, unknown> | null, i) => {
    const at = `volumes[${i}]`;
    const pathProblem = ruleProblem("mountPath", mount?.mountPath);
    if (pathProblem || typeof mount?.mountPath !== "string") {
      problems.push({ property: `${at}.mountPath`, reason: pathProblem ?? "must be a string" });
    } else if (seen.has(mount.mountPath)) {
      problems.push({ property: `${at}.mountPath`, reason: `${mount.mountPath} is mounted twice` });
    } else seen.add(mount.mountPath);
    if (typeof mount?.volume !== "string" || mount.volume === "") {
      problems.push({ property: `${at}.volume`, reason: "must name a volume" });
    }
    if (mount?.subPath !== undefined) {
      const sub = mount.subPath;
      const reason =
        typeof sub !== "string" || sub === "" || sub.startsWith("/")
          ? "must be a relative path inside the volume"
          : ruleProblem("absolutePath", `/${sub}`);
      if (reason) problems.push({ property: `${at}.subPath`, reason });
    }
  });
  return problems;
}

function portProblems(ports: unknown, network: unknown): PropertyProblem[] {
  if (ports === undefined) return [];
  if (!Array.isArray(ports)) return [{ property: "ports", reason: "must be a list of port numbers" }];
  if (ports.length > LIMITS.ports) {
    return [
      { property: "ports", reason: `must have at most ${String(LIMITS.ports)} items (has ${String(ports.length)})` },
    ];
  }
  const problems: PropertyProblem[] = [];
  ports.forEach((port: unknown, i) => {
    if (!(typeof port === "number" && Number.isInteger(port) && port >= 1 && port <= 65535)) {
      problems.push({ property: `ports[${i}]`, reason: "must be a port number from 1 to 65535" });
    }
  });
  if (new Set(ports).size !== ports.length) problems.push({ property: "ports", reason: "lists a port twice" });
  if (ports.length > 0 && network !== "app" && network !== "egress") {
    problems.push({ property: "ports", reason: 'publishing ports needs network: "app" (or an egress allowlist)' });
  }
  return problems;
}

function egressProblems(egress: unknown, network: unknown, runtime: unknown): PropertyProblem[] {
  if (egress === undefined) return [];
  const allow = typeof egress === "object" && egress !== null ? (egress as { allow?: unknown }).allow : undefined;
  if (!Array.isArray(allow)) return [{ property: "egress", reason: "must be { allow: [...] }" }];
  const problems: PropertyProblem[] = [];
  if (allow.length > MAX_EGRESS_ENTRIES)
    problems.push({ property: "egress.allow", reason: `must have at most ${String(MAX_EGRESS_ENTRIES)} entries` });
  allow.forEach((entry: unknown, i) => {
    const reason = egressEntryProblem(entry);
    if (reason) problems.push({ property: `egress.allow[${String(i)}]`, reason });
  });
  for (const reason of egressSettingProblems(network, runtime)) problems.push({ property: "egress", reason });
  return problems;
}

function readinessProblems(readiness: unknown, ports: unknown): PropertyProblem[] {
  if (typeof readiness !== "object" || readiness === null) return [{ property: "readiness", reason: "must be a map" }];
  const r = readiness as Record<string, unknown>;
  const problems: PropertyProblem[] = [];
  if ((r.tcpPort === undefined) === (r.exec === undefined)) {
    problems.push({ property: "readiness", reason: "needs exactly one of tcpPort or exec" });
  }
  if (
    r.tcpPort !== undefined &&
    !(typeof r.tcpPort === "number" && Number.isInteger(r.tcpPort) && r.tcpPort >= 1 && r.tcpPort <= 65535)
  ) {
    problems.push({ property: "readiness.tcpPort", reason: "must be a port number from 1 to 65535" });
  } else if (typeof r.tcpPort === "number" && Array.isArray(ports) && ports.length > 0 && !ports.includes(r.tcpPort)) {
    problems.push({ property: "readiness.tcpPort", reason: `port ${r.tcpPort} is not among the sandbox's ports` });
  }
  if (r.exec !== undefined) problems.push(...argvProblems("readiness.exec", r.exec));
  if (
    r.intervalMs !== undefined &&
    !(typeof r.intervalMs === "number" && Number.isInteger(r.intervalMs) && r.intervalMs >= 10)
  ) {
    problems.push({ property: "readiness.intervalMs", reason: "must be a whole number of ms, at least 10" });
  }
  if (
    r.timeoutMs !== undefined &&
    !(
      typeof r.timeoutMs === "number" &&
      Number.isInteger(r.timeoutMs) &&
      r.timeoutMs >= 1 &&
      r.timeoutMs <= MAX_DURATION_MS
    )
  ) {
    problems.push({ property: "readiness.timeoutMs", reason: "must be a whole number of ms up to 86400000 (24h)" });
  }
  return problems;
}

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
