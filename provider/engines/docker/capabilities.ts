import type { Capability, EngineCapabilities } from "../port.ts";

const SUPPORTED: Capability = { supported: true };

/** Docker runs an exec as any user it is told: known without asking the engine. */
export const DOCKER_EXEC_USER: Capability = SUPPORTED;

/** The Engine API version that mounts part of a volume (VolumeOptions.Subpath). */
const SUBPATH_API = [1, 45] as const;

/** What the Docker engine said of itself that decides what it can do. */
export interface DockerFacts {
  /** Where it is, as the user named it: a DOCKER_HOST URL. */
  host: string;
  apiVersion: string;
  storageDriver: string;
  backingFilesystem: string;
  /** Whether it runs with experimental features, which its checkpoint API needs. */
  experimental: boolean;
  /**
   * The CRIU its host was found to run (its `sandfleet.criu` label), undefined when none is known:
   * the API does not say whether the engine's runtime can find a CRIU that works on its kernel.
   */
  criu: string | undefined;
  /** Whether it listens on a socket of this host, where a program beside a container can join its namespaces. */
  local: boolean;
}

/** What this Docker engine can do, from what it said of itself. */
export function dockerCapabilities(facts: DockerFacts): EngineCapabilities {
  return {
    pause: SUPPORTED,
    checkpoint: checkpoint(facts),
    egressAddresses: SUPPORTED,
    egressNames: SUPPORTED,
    diskBound: diskBound(facts),
    subPathMounts: subPathMounts(facts),
    snapshots: SUPPORTED,
    pidsBound: SUPPORTED,
    // Root on the engine's own host joins a container's network namespace; each sandbox's runtime
    // may still keep its own network (gVisor), and the channel then falls back to an exec.
    hostChannel:
      facts.local && process.getuid?.() === 0
        ? SUPPORTED
        : {
            supported: false,
            why: `a program beside a sandbox needs this process to run as root on the host of the Docker engine at ${facts.host}`,
          },
    execUser: DOCKER_EXEC_USER,
    // Each port is published on 127.0.0.1 by the engine, for as long as the container runs.
    hostPorts: SUPPORTED,
  };
}

/**
 * Docker's `size` storage option works on btrfs (qgroups) and zfs (quotas),
 * and on overlay2 only over xfs mounted with project quotas.
 */
function diskBound(facts: DockerFacts): Capability {
  const { storageDriver, backingFilesystem } = facts;
  if (storageDriver === "btrfs" || storageDriver === "zfs") return SUPPORTED;
  if (storageDriver === "overlay2" && backingFilesystem === "xfs") return SUPPORTED;
  const on = backingFilesystem ? ` on ${backingFilesystem}` : "";
  return {
    supported: false,
    why:
      `the Docker engine at ${facts.host} stores containers with ${storageDriver || "an unknown driver"}${on}, ` +
      "which cannot bound a container's disk; use btrfs or zfs storage, or overlay2 on xfs with project quotas " +
      "(scripts/bootstrap sets up btrfs)",
  };
}

/** The engine's label that names a CRIU checked on its host (scripts/lib/engine-current.sh sets it). */
export const CRIU_LABEL = "sandfleet.criu";

/** Docker checkpoints with CRIU, through its experimental API: both must be there. */
function checkpoint(facts: DockerFacts): Capability {
  if (!facts.experimental) {
    return {
      supported: false,
      why: `the Docker engine at ${facts.host} runs without experimental features, which its checkpoint API needs`,
    };
  }
  if (facts.criu === undefined) {
    return {
      supported: false,
      why:
        `the Docker engine at ${facts.host} has no CRIU known to work on its host: ` +
        `once \`criu check\` passes there, give the engine the label ${CRIU_LABEL}=<CRIU version>`,
    };
  }
  return SUPPORTED;
}

/** An older engine ignores a subPath and mounts the whole volume: it cannot be told to mount part of one. */
function subPathMounts(facts: DockerFacts): Capability {
  const [major = 0, minor = 0] = facts.apiVersion.split(".").map(Number);
  const [needMajor, needMinor] = SUBPATH_API;
  if (major > needMajor || (major === needMajor && minor >= needMinor)) return SUPPORTED;
  return {
    supported: false,
    why:
      `needs an engine that speaks Engine API ${SUBPATH_API.join(".")} (Docker 26) or newer; ` +
      `the engine at ${facts.host} speaks ${facts.apiVersion}`,
  };
}
