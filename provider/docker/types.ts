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
  readOnlyRootfs: boolean;
  /** "none", or the name of a network to attach to. */
  networkMode: string;
  capDrop: readonly string[];
  securityOpt: readonly string[];
  /** OCI runtime registered with the engine: "runc" or "runsc". */
  runtime: string;
  /** tmpfs mounts, path to mount options; gives a read-only rootfs a writable /tmp. */
  tmpfs?: Readonly<Record<string, string>>;
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
  startedAt: string;
  finishedAt: string;
  user: string;
  workdir: string;
  env: Readonly<Record<string, string>>;
  cmd: readonly string[];
  nanoCpus: number;
  memoryBytes: number;
  pidsLimit: number;
  readOnlyRootfs: boolean;
  networkMode: string;
  capDrop: readonly string[];
  capAdd: readonly string[];
  securityOpt: readonly string[];
  privileged: boolean;
  runtime: string;
  binds: readonly string[];
}

export interface ContainerSummary {
  id: string;
  name: string;
  labels: Labels;
  status: ContainerStatus;
}

export interface ResourceLimits {
  nanoCpus?: number;
  memoryBytes?: number;
  pidsLimit?: number;
}

export interface ImageInfo {
  id: string;
  tags: readonly string[];
  labels: Labels;
}

export interface NetworkSpec {
  name: string;
  labels: Labels;
  /** An internal network has no route out of the host. */
  internal: boolean;
}

export interface NetworkInfo {
  id: string;
  name: string;
  labels: Labels;
  internal: boolean;
}

export interface ExecSpec {
  argv: readonly string[];
  env?: Readonly<Record<string, string>>;
  workdir?: string;
  user?: string;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}
