/**
 * The engine port: what sandfleet's runtime, resources, CLI and agent need of
 * an engine, one client per concern, and the shapes they speak. Each engine
 * (engines/docker, engines/kubernetes) implements it; nothing above the
 * engines speaks an engine's own types.
 */

import type { Duplex, Readable, Writable } from "node:stream";

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
  /** "none", or the name of a network to attach to ("none" beside `egressAllow`: the list is all it reaches). */
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
  /** A placed supervisor version, mounted read-only at `dir`. */
  supervisor?: { version: string; dir: string };
  /** Container TCP ports to publish, each on a free port of 127.0.0.1. */
  ports?: readonly number[];
  /** DNS servers (a sandbox with an egress allowlist asks only sandfleet's resolver). */
  dns?: readonly string[];
  /** The MAC address on its network (a sandbox with an egress allowlist: one of its own, never reused). */
  macAddress?: string;
  /**
   * The IPv4 addresses and CIDRs (canonical, as provider/egress-entries.ts reads them) that are all
   * the container may reach: only for an engine that keeps allowlists itself (Engine.egress), made
   * with the container and removed with it.
   */
  egressAllow?: readonly string[];
  /** Capabilities given back after capDrop: only sandfleet's own egress daemon has any. */
  capAdd?: readonly string[];
  /** Restarted by the engine unless stopped: only sandfleet's own daemons, never a sandbox. */
  restartUnlessStopped?: boolean;
  /** The engine keeps the container's log in files of at most this size, the newest `maxFiles`: only sandfleet's own daemons. */
  log?: { maxFileBytes: number; maxFiles: number };
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

/**
 * What the engine says is wrong with a container beyond its status: on
 * Kubernetes, its node was lost, its pod was evicted, or it stopped being
 * Ready. Docker never says any.
 */
export interface ContainerTrouble {
  /** "node-lost", "evicted: disk" (memory, pids, api, ...), or "not-ready". */
  reason: string;
  /** One line naming the pod, its node and what the cluster said. */
  detail: string;
  /** The container has ended for it (its status then says exited); else it runs but cannot serve. */
  ended: boolean;
  /** When it happened, in ms since the epoch, where the engine tells. */
  sinceMs: number | undefined;
  /** The node it ran on. */
  node: string | undefined;
}

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
  /** The entrypoint the container was made with (on Kubernetes, its command; `cmd` then holds it too). */
  entrypoint: readonly string[];
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
  /** Published container port -> host port on 127.0.0.1, where the engine publishes them itself (capability hostPorts). */
  ports: Readonly<Record<number, number>>;
  /**
   * The TCP ports the sandbox serves (ContainerSpec.ports), published on this
   * host or not; absent where the engine tells no more than `ports`.
   */
  servedPorts?: readonly number[];
  /** The container's address on each network it joined. */
  addresses: Readonly<Record<string, string>>;
  /** MAC address on each network, by network name, where the engine tells it. */
  macAddresses?: Readonly<Record<string, string>>;
  /** Host process id of the main process; 0 when not running. */
  pid: number;
  /** Execs the engine still knows of, running or finished. */
  execIds: readonly string[];
  /** What the engine says is wrong with it beyond its status (Kubernetes only). */
  trouble?: ContainerTrouble;
}

export interface ExecInfo {
  running: boolean;
  exitCode: number | null;
}

/** The attribute of a `die` event that says the engine itself ended the container, and why (a ContainerTrouble's reason). */
export const END_REASON_ATTRIBUTE = "endReason";
/** Beside it: one line naming the pod, its node and what the cluster said. */
export const END_DETAIL_ATTRIBUTE = "endDetail";

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
  /** What the engine says is wrong with it beyond its status (Kubernetes only). */
  trouble?: ContainerTrouble;
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
  /** The name of the host's bridge, where the engine makes one (Docker); default the engine's choice. */
  bridge?: string;
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
  /** The host's bridge that carries it; undefined where the network is not a bridge on a host (Kubernetes). */
  bridge: string | undefined;
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

/** One thing an engine can or cannot do; when it cannot, the engine's own words on why, for the user. */
export type Capability = { readonly supported: true } | { readonly supported: false; readonly why: string };

/**
 * What an engine can do that not every engine can. The runtime asks these,
 * never which engine it is: a new engine (or an engine's new version) says
 * what it offers in one place, and every caller follows.
 */
export interface EngineCapabilities {
  /** Freezing a sandbox's processes in memory (ContainerClient.pause, unpause). */
  readonly pause: Capability;
  /** Writing a sandbox's memory to disk before a pause (ContainerClient.checkpoint). */
  readonly checkpoint: Capability;
  /** IPv4 addresses and CIDRs in an egress allowlist: nothing else is reachable. */
  readonly egressAddresses: Capability;
  /** Names and wildcards in an egress allowlist: a resolver that answers only them, and opens what it answered. */
  readonly egressNames: Capability;
  /** A bound on a sandbox's disk (ContainerSpec.diskBytes) that the engine enforces. */
  readonly diskBound: Capability;
  /** Mounting one folder of a volume (VolumeMount.subPath) rather than all of it. */
  readonly subPathMounts: Capability;
  /** Recording a sandbox's filesystem as an image (ImageClient.commit): snapshots. */
  readonly snapshots: Capability;
  /** A pids bound of each sandbox's own (ContainerSpec.pidsLimit), not one shared by a node's pods. */
  readonly pidsBound: Capability;
  /** A program of this host's started beside a sandbox (ExecClient.startBeside): the host-side channel. */
  readonly hostChannel: Capability;
  /** Choosing the user an exec runs as (ExecSpec.user), so a sandbox can tell the host's connections by uid. */
  readonly execUser: Capability;
  /**
   * The engine itself publishes a sandbox's ports on this host's 127.0.0.1
   * (ContainerInfo.ports). Where it does not, a tunnel is a listener of the
   * process that asked, forwarding each connection over ContainerClient.connect.
   */
  readonly hostPorts: Capability;
}

/** What the engine says of itself that sandfleet needs to know. */
export interface EngineInfo {
  /** Which implementation of the port speaks to it, for messages only: ask `capabilities`, never this. */
  kind: string;
  /** What it can do: the runtime's one question about an engine's differences. */
  capabilities: EngineCapabilities;
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
  /**
   * Where it keeps its data on its host (Docker's DockerRootDir): no two
   * engines of one host share it. Undefined where the engine has no one host.
   */
  dataRoot?: string;
}

export interface ContainerClient {
  /** Creates (does not start) a container; returns its id. */
  create(spec: ContainerSpec): Promise<string>;
  start(id: string): Promise<void>;
  /** Freezes every process of the container (the cgroup freezer); `unpause` thaws them. */
  pause(id: string): Promise<void>;
  unpause(id: string): Promise<void>;
  /**
   * Writes the container's memory and processes to disk with CRIU, as
   * `docker checkpoint create`, and stops it: its memory is freed until
   * `restore` starts it again from there.
   */
  checkpoint(id: string, checkpointId: string): Promise<void>;
  /** The names of the checkpoints kept for the container. */
  checkpoints(id: string): Promise<string[]>;
  /**
   * Starts a container that `checkpoint` stopped from that checkpoint, its
   * processes as they were, then removes the checkpoint.
   */
  restore(id: string, checkpointId: string): Promise<void>;
  /** Removes a checkpoint the container keeps (its memory on disk), without starting it. */
  removeCheckpoint(id: string, checkpointId: string): Promise<void>;
  /**
   * One sample of what the container uses now. `disk: false` leaves out the
   * writable layer's size (`diskBytes` 0), which the engine measures by
   * walking the layer: a watcher sampling many containers often skips it.
   */
  stats(id: string, options?: { disk?: boolean }): Promise<ContainerStats>;
  inspect(id: string): Promise<ContainerInfo | undefined>;
  /** Sends a signal to the main process; a no-op when it is not running. */
  kill(id: string, signal?: string): Promise<void>;
  /** Removes the container and its anonymous volumes; absent is fine. */
  remove(id: string): Promise<void>;
  update(id: string, limits: ResourceLimits): Promise<void>;
  /**
   * Gives the container a new name; a name in use is refused (ConflictError).
   * With `from`, only while its name is still `from`: Kubernetes tests that in
   * the same write (so a claim is one conditioned write, never a read first);
   * Docker relies on its refusal of a name in use, which is the same test for
   * the names it is used with (a pool member's next state, a name only that
   * member can take).
   */
  rename(id: string, name: string, options?: { from?: string }): Promise<void>;
  /** Containers (running or not) carrying every one of the labels. */
  list(labels: Labels): Promise<ContainerSummary[]>;
  /** Resolves with the exit code once the container stops. */
  wait(id: string): Promise<number>;
  /** The main process's output so far, and on as it comes when following. */
  logs(id: string, options: { follow: boolean; tail?: number }): Promise<{ stdout: Readable; stderr: Readable }>;
  /**
   * A byte stream from this process to TCP port `port` of the running
   * sandbox `id`, which must be one of the ports it serves (else refused):
   * what tunnels and the gateway carry each connection over. Docker: its
   * published port on 127.0.0.1. Kubernetes: the pod's port-forward through
   * the API server. The stream ends when either side closes.
   */
  connect(id: string, port: number): Promise<Duplex>;
}

/** A process started inside a container, with its streams still open. */
export interface ExecProcess {
  readonly execId: string;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Present when started with `stdin: true`; end it to close the process's input. */
  readonly stdin: Writable | undefined;
  /** Resolves with the exit code once the process has ended and its output is drained. */
  wait(): Promise<number>;
  /** Whether this exec's open connection keeps the Node process running (by default it does). */
  hold(keep: boolean): void;
}

export interface ExecClient {
  start(containerId: string, spec: ExecSpec, options?: { stdin?: boolean }): Promise<ExecProcess>;
  /** Runs to completion and collects the output. */
  run(containerId: string, spec: ExecSpec): Promise<ExecResult>;
  /**
   * Starts a program of this host's beside the container, on the engine's
   * own host, told the container's first process (`--pid N --container ID`,
   * appended) so that it can join its network namespace and reach a socket
   * there without an exec in the container. Undefined where this process
   * cannot: another host, no right to join a namespace, or a runtime that
   * keeps its own network.
   */
  startBeside?(
    containerId: string,
    argv: readonly string[],
    /**
     * The container as the caller has just inspected it, to skip asking again. Safe when stale:
     * the process it names is checked to be the container's before anything joins it.
     */
    inspected?: ContainerInfo,
  ): Promise<ExecProcess | undefined>;
  inspect(execId: string): Promise<ExecInfo | undefined>;
  /** Sets the window size of an exec started with `tty`. */
  resize(execId: string, rows: number, cols: number): Promise<void>;
  /**
   * Signals every process in the container whose environment holds
   * `key=value`, children included, without needing a free pid in the
   * container where it can (see process-kill.ts). `user` runs the fallback
   * inside the sandbox.
   */
  signalTagged(containerId: string, tag: { key: string; value: string }, signal: number, user?: string): Promise<void>;
}

/** A snapshot to record: its name, its labels and the image config it keeps. */
export interface ImageCommitSpec extends ImageConfig {
  repo: string;
  tag: string;
  labels: Labels;
}

export interface ImageClient {
  inspect(ref: string): Promise<ImageInfo | undefined>;
  /** Builds the directory `contextDir` (with its Dockerfile); streams each output line to `onLine`. */
  build(contextDir: string, spec: ImageBuildSpec, onLine: (line: string) => void): Promise<string>;
  /** Records a container's filesystem as an image with exactly the given config; returns the image id. */
  commit(containerId: string, spec: ImageCommitSpec): Promise<string>;
  /** Makes an image of a root filesystem given as a tar stream, with the config in `spec`. */
  importArchive(tar: Readable, spec: ImageCommitSpec): Promise<string>;
  /** Gives an image another name, `repo:tag`. */
  tag(ref: string, repo: string, tag: string): Promise<void>;
  /** Sends `repo:tag` to its registry. */
  push(repo: string, tag: string): Promise<void>;
  /** Removes one reference to an image; an image a container still uses is kept. */
  remove(ref: string): Promise<ImageRemoval>;
  /** Images carrying every one of the labels; with `reference`, only those with a tag of that repository. */
  list(labels: Labels, options?: { reference?: string }): Promise<ImageSummary[]>;
}

export interface VolumeClient {
  create(spec: VolumeSpec): Promise<VolumeInfo>;
  inspect(name: string): Promise<VolumeInfo | undefined>;
  /** Removes the volume and its data; absent is fine. */
  remove(name: string): Promise<void>;
  list(labels: Labels): Promise<VolumeInfo[]>;
}

export interface NetworkClient {
  create(spec: NetworkSpec): Promise<string>;
  inspect(idOrName: string): Promise<NetworkInfo | undefined>;
  /** Removes the network; absent is fine. */
  remove(idOrName: string): Promise<void>;
  list(labels: Labels): Promise<NetworkInfo[]>;
}

/**
 * Egress allowlists the engine keeps itself, beside each container (Kubernetes: a NetworkPolicy per
 * pod). An engine without one has sandfleet's egress daemon keep them (Docker).
 */
export interface EgressClient {
  /** Replaces a container's allowlist (canonical addresses and CIDRs): what it drops ends at once, never later than what it adds begins. */
  set(containerId: string, allow: readonly string[]): Promise<void>;
}

export interface EventClient {
  /** Container events the engine still holds between two times (it keeps the most recent ones only). */
  containerEvents(params: {
    sinceMs: number;
    untilMs: number;
    actions: readonly string[];
    labels: Labels;
    /** Only this container's events. */
    containerId?: string;
  }): Promise<EngineEvent[]>;
  /**
   * Container events as they happen, from `sinceMs` (what the engine still
   * holds of the past, then live) until the signal aborts.
   */
  watch(params: {
    sinceMs?: number;
    actions: readonly string[];
    labels: Labels;
    signal: AbortSignal;
  }): AsyncIterable<EngineEvent>;
  /**
   * Since when the engine holds every event it saw, of every kind: 0 while
   * it has dropped none, else the time of the oldest it still holds (an
   * engine that keeps only its newest events drops the oldest of any kind,
   * so a container's events can go while a flood of others' is kept).
   * Absent where the engine cannot tell.
   */
  heldSince?(): Promise<number>;
}

/**
 * An engine, as sandfleet sees it: narrow clients per kind of object. The
 * runtime and the resources depend on this interface only, so a unit test can
 * hand them a fake.
 */
/**
 * The in-sandbox supervisor, made mountable by the engine's sandboxes. Each
 * version is placed once per engine and kept while sandboxes use it.
 */
export interface SupervisorClient {
  /** Idempotent, and safe when several processes place the same version at once. */
  place(params: {
    version: string;
    labels: Labels;
    /** The static binary itself. */
    binary: Buffer;
    /** The binary at `binaryPath` in a root filesystem, as a tar stream. */
    archive: () => Promise<Readable>;
    binaryPath: string;
  }): Promise<void>;
  /** The versions placed, by the labels they were placed with. */
  list(labels: Labels): Promise<string[]>;
  /** Removes a version; false when something still uses it. */
  remove(version: string): Promise<boolean>;
}

/**
 * Small labelled records the runtime keeps beside its sandboxes: claim times,
 * pool declarations, tags and deadlines set on live sandboxes, connect tokens,
 * webhooks, egress lists. Their labels are their content.
 */
export interface RecordClient {
  create(spec: RecordSpec): Promise<void>;
  /**
   * Makes the record unless one of that name exists; true when this call made
   * it. Atomic: of any number of callers at once, exactly one gets true.
   */
  createIfAbsent(spec: RecordSpec): Promise<boolean>;
  inspect(name: string): Promise<RecordInfo | undefined>;
  /** Absent is fine. */
  remove(name: string): Promise<void>;
  list(labels: Labels): Promise<RecordInfo[]>;
}

export interface RecordSpec {
  name: string;
  labels: Labels;
}

export type RecordInfo = RecordSpec;

export interface Engine {
  /** Where it is, for messages: a DOCKER_HOST URL, or kubernetes://context/namespace. */
  readonly host: string;
  readonly containers: ContainerClient;
  readonly images: ImageClient;
  readonly networks: NetworkClient;
  readonly volumes: VolumeClient;
  readonly records: RecordClient;
  readonly supervisors: SupervisorClient;
  readonly events: EventClient;
  readonly exec: ExecClient;
  /** Present where the engine keeps egress allowlists itself (ContainerSpec.egressAllow); else the egress daemon does. */
  readonly egress?: EgressClient;
  /** Resolves when the engine answers; throws EngineUnavailableError when it does not. */
  ping(): Promise<void>;
  /** The engine's storage, asked once per client. */
  info(): Promise<EngineInfo>;
  /**
   * Removes what the engine made for an app beside its objects, at the app's
   * end. Kubernetes: the local image tags its pods were pushed from, and the
   * namespace's default-deny policy once no sandbox pod of any app is left.
   */
  releaseApp?(app: string): Promise<void>;
  /**
   * Whether an exec can run as a user of the caller's choosing, where that is known without asking
   * (the same answer as info()'s capabilities.execUser): a command's start then skips that call.
   */
  readonly execUser?: Capability;
}
