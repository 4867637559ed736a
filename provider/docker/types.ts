/**
 * The engine-facing shapes sandfleet uses. They are narrower than Docker's API
 * on purpose: everything above `docker/` speaks these, never dockerode's types.
 */

export type Labels = Readonly<Record<string, string>>;

export interface ContainerSpec {
  name?: string;
  image: string;
  cmd?: readonly string[];
  entrypoint?: readonly string[];
  env: Readonly<Record<string, string>>;
  labels: Labels;
  workdir?: string;
  user?: string;
  /** CPU limit in units of 1e-9 cores (Docker's NanoCpus). */
  nanoCpus: number;
  memoryBytes: number;
  pidsLimit: number;
  /** Bound of the writable layer (storage-opt size); only on storage that can enforce it. */
  diskBytes?: number;
  readOnlyRootfs: boolean;
  /** "none", or the name of a network to attach to. */
  networkMode: string;
  capDrop: readonly string[];
  securityOpt: readonly string[];
  /** OCI runtime registered with the engine: "runc" or "runsc". */
  runtime: string;
  /** Run the engine's init (tini) as PID 1: it reaps orphans and forwards signals. */
  init: boolean;
  /** The engine's health check: a command run in the container now and then. */
  healthcheck?: HealthCheck;
  /** tmpfs mounts, path to mount options; gives a read-only rootfs a writable /tmp. */
  tmpfs?: Readonly<Record<string, string>>;
  /** Named volumes to mount. */
  mounts?: readonly VolumeMount[];
  /** Container TCP ports to publish, each on a free port of 127.0.0.1. */
  ports?: readonly number[];
  /** DNS servers (a sandbox with an egress allowlist asks only sandfleet's resolver). */
  dns?: readonly string[];
  /** Capabilities given back after capDrop: only sandfleet's own egress daemon has any. */
  capAdd?: readonly string[];
  /** Restarted by the engine unless stopped: only sandfleet's own daemons, never a sandbox. */
  restartUnlessStopped?: boolean;
  /** Host files mounted read-only: only sandfleet's own daemons, never a sandbox. */
  hostFiles?: readonly { source: string; target: string }[];
}

export interface HealthCheck {
  /** argv, run without a shell. */
  argv: readonly string[];
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  startPeriodMs: number;
}

export interface VolumeMount {
  volume: string;
  target: string;
  readOnly: boolean;
  /** Mount this folder of the volume instead of all of it (Engine API 1.45 and newer). */
  subPath?: string;
}

export type ContainerStatus = "created" | "running" | "paused" | "restarting" | "removing" | "exited" | "dead";

export interface ContainerInfo {
  id: string;
  name: string;
  image: string;
  imageId: string;
  labels: Labels;
  status: ContainerStatus;
  running: boolean;
  exitCode: number;
  oomKilled: boolean;
  createdAt: string;
  startedAt: string;
  finishedAt: string;
  user: string;
  workdir: string;
  env: Readonly<Record<string, string>>;
  cmd: readonly string[];
  nanoCpus: number;
  memoryBytes: number;
  pidsLimit: number;
  /** Bound of the writable layer; undefined when unbounded. */
  diskBytes: number | undefined;
  readOnlyRootfs: boolean;
  networkMode: string;
  capDrop: readonly string[];
  capAdd: readonly string[];
  securityOpt: readonly string[];
  privileged: boolean;
  runtime: string;
  init: boolean;
  healthcheck: HealthCheck | undefined;
  /** "healthy", "unhealthy" or "starting"; undefined without a health check. */
  health: string | undefined;
  binds: readonly string[];
  mounts: readonly VolumeMount[];
  /** Published container port -> host port on 127.0.0.1. */
  ports: Readonly<Record<number, number>>;
  /** The container's address on each network it joined. */
  addresses: Readonly<Record<string, string>>;
  /** Host process id of the main process; 0 when not running. */
  pid: number;
  /** Execs the engine still knows of, running or finished. */
  execIds: readonly string[];
}

export interface ExecInfo {
  running: boolean;
  exitCode: number | null;
}

export interface EngineEvent {
  /** Unix time in ms. */
  timeMs: number;
  action: string;
  /** What follows the action's name: the command line of an exec_start. */
  detail: string;
  containerId: string;
  /** The exec an exec_start or exec_die is about. */
  execId: string | undefined;
  /** What the engine tells with it: the container's name and labels, a die's exitCode, a kill's signal. */
  attributes: Readonly<Record<string, string>>;
}

export interface ContainerSummary {
  id: string;
  name: string;
  labels: Labels;
  status: ContainerStatus;
  /** When the container was made, in ms since the epoch. */
  createdMs: number;
  /** Container port -> host port on 127.0.0.1. */
  ports: Record<number, number>;
}

export interface ResourceLimits {
  nanoCpus?: number;
  memoryBytes?: number;
  pidsLimit?: number;
}

/** What a container of an image starts with. */
export interface ImageConfig {
  env: readonly string[];
  cmd: readonly string[] | undefined;
  entrypoint: readonly string[] | undefined;
  user: string;
  workdir: string;
}

export interface ImageInfo extends ImageConfig {
  id: string;
  tags: readonly string[];
  labels: Labels;
}

export interface ImageSummary {
  id: string;
  tags: readonly string[];
  labels: Labels;
}

export interface ImageBuildSpec {
  tag: string;
  labels: Labels;
  /** "none" keeps RUN steps off the network. */
  networkMode: "none" | "default";
  /** Name of the Dockerfile inside the context. */
  dockerfile: string;
}

/** The outcome of removing an image that may still be in use. */
export type ImageRemoval = "removed" | "absent" | "in-use";

export interface VolumeSpec {
  name: string;
  labels: Labels;
}

export interface VolumeInfo {
  name: string;
  labels: Labels;
  mountpoint: string;
}

export interface NetworkSpec {
  name: string;
  labels: Labels;
  /** An internal network has no route out of the host, and no published ports. */
  internal: boolean;
  /** NAT to the outside for containers on the network. */
  masquerade: boolean;
}

export interface NetworkInfo {
  id: string;
  name: string;
  labels: Labels;
  internal: boolean;
  masquerade: boolean;
  /** Its IPv4 subnet and gateway address, as the engine assigned them. */
  subnet: string | undefined;
  gateway: string | undefined;
}

export interface ExecSpec {
  argv: readonly string[];
  env?: Readonly<Record<string, string>>;
  workdir?: string;
  user?: string;
  /** Run on a pseudo-terminal: one output stream (stdout), resizable. */
  tty?: boolean;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** What the engine says of itself that sandfleet needs to know. */
/** What a container uses, sampled once by the engine. */
export interface ContainerStats {
  /** CPU time used since it started, in ns. */
  cpuNs: number;
  memoryBytes: number;
  memoryLimitBytes: number;
  pids: number;
  networkRxBytes: number;
  networkTxBytes: number;
  /** Bytes its writable layer holds: what it wrote to its own filesystem. */
  diskBytes: number;
}

export interface EngineInfo {
  /** Storage driver: overlay2, btrfs, zfs, ... */
  storageDriver: string;
  /** The file system under the driver's data: extfs, xfs, btrfs, ... */
  backingFilesystem: string;
  /** CPUs the engine's host has. */
  cpus: number;
  /** Memory the engine's host has, in bytes. */
  memoryBytes: number;
  /** The host's CPU as the kernel names it: x86_64, aarch64, ... */
  architecture: string;
  /** The kind of containers it runs: linux or windows. */
  os: string;
  /** The newest Engine API version it speaks, e.g. "1.41". */
  apiVersion: string;
}
