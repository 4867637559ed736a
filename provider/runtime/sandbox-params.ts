import type { ContainerSpec } from "../docker/types.ts";
import { tagLabels, ownershipLabels, LABEL } from "./labels.ts";
import { appNetworkName, containerName, nameProblem } from "./names.ts";

export type SandboxRuntime = "runc" | "runsc";
export type SandboxNetwork = "none" | "app";

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
  /** Docker engine to use (DOCKER_HOST forms); default the local one. */
  dockerHost?: string;
}

/** SandboxParams with every default filled in: what diffs compare. */
export type NormalizedSandboxParams = Required<
  Omit<SandboxParams, "name" | "entrypoint" | "workdir" | "user" | "dockerHost">
> &
  Pick<SandboxParams, "name" | "entrypoint" | "workdir" | "user" | "dockerHost">;

export const SANDBOX_DEFAULTS = {
  command: ["sleep", "infinity"],
  cpu: 1,
  memoryMiB: 512,
  pidsLimit: 256,
  readOnlyRootfs: false,
  network: "none",
  runtime: "runc",
} as const;

export interface PropertyProblem {
  property: string;
  reason: string;
}

/** Every problem with the parameters, one per property, before anything touches the engine. */
export function sandboxParamsProblems(params: Readonly<Record<string, unknown>>): PropertyProblem[] {
  const problems: PropertyProblem[] = [];
  const problem = (property: string, reason: string) => problems.push({ property, reason });

  if (typeof params.app !== "string") problem("app", "is required");
  else {
    const p = nameProblem(params.app);
    if (p) problem("app", p);
  }
  if (typeof params.image !== "string" || params.image.trim() === "") problem("image", "is required");
  if (params.name !== undefined) {
    const p = typeof params.name === "string" ? nameProblem(params.name) : "must be a string";
    if (p) problem("name", p);
  }
  for (const key of ["command", "entrypoint"] as const) {
    const argv = params[key];
    if (argv !== undefined && (!Array.isArray(argv) || argv.length === 0 || argv.some((a) => typeof a !== "string"))) {
      problem(key, "must be a non-empty list of strings");
    }
  }
  if (params.workdir !== undefined && !(typeof params.workdir === "string" && params.workdir.startsWith("/"))) {
    problem("workdir", "must be an absolute path");
  }
  if (params.cpu !== undefined && !(typeof params.cpu === "number" && params.cpu >= 0.01 && params.cpu <= 1024)) {
    problem("cpu", "must be a number of cores between 0.01 and 1024");
  }
  if (
    params.memoryMiB !== undefined &&
    !(typeof params.memoryMiB === "number" && Number.isInteger(params.memoryMiB) && params.memoryMiB >= 6)
  ) {
    problem("memoryMiB", "must be a whole number of MiB, at least 6 (Docker's minimum)");
  }
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
  for (const key of ["env", "tags"] as const) {
    const map = params[key];
    if (map === undefined) continue;
    if (typeof map !== "object" || map === null || Array.isArray(map)) problem(key, "must be a map of strings");
    else {
      for (const [k, v] of Object.entries(map)) {
        if (typeof v !== "string") problem(`${key}.${k}`, "must be a string");
        if (key === "env" && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
          problem(`${key}.${k}`, "is not a valid variable name");
      }
    }
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
    ...(params.user !== undefined ? { user: params.user } : {}),
    readOnlyRootfs: params.readOnlyRootfs ?? SANDBOX_DEFAULTS.readOnlyRootfs,
    network: params.network ?? SANDBOX_DEFAULTS.network,
    runtime: params.runtime ?? SANDBOX_DEFAULTS.runtime,
    tags: sortedRecord(params.tags ?? {}),
    ...(params.dockerHost !== undefined ? { dockerHost: params.dockerHost } : {}),
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
    env: params.env,
    labels: {
      ...tagLabels(params.tags),
      ...ownershipLabels(params.app, "sandbox", {
        [LABEL.name]: name,
        ...(owner ? { [LABEL.owner]: owner } : {}),
      }),
    },
    ...(params.workdir ? { workdir: params.workdir } : {}),
    ...(params.user ? { user: params.user } : {}),
    nanoCpus: Math.round(params.cpu * 1e9),
    memoryBytes: params.memoryMiB * 1024 * 1024,
    pidsLimit: params.pidsLimit,
    readOnlyRootfs: params.readOnlyRootfs,
    networkMode: params.network === "app" ? appNetworkName(params.app) : "none",
    capDrop: ["ALL"],
    securityOpt: ["no-new-privileges"],
    runtime: params.runtime,
    ...(params.readOnlyRootfs ? { tmpfs: { "/tmp": "rw,nosuid,nodev,size=64m" } } : {}),
  };
}

function sortedRecord(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
