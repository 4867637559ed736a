import { createHash } from "node:crypto";
import type {
  ContainerClient,
  ContainerSummary,
  Engine,
  EngineEvent,
  EngineInfo,
  EventClient,
  ExecClient,
  ImageClient,
  ImageInfo,
  Labels,
  NetworkClient,
  NetworkInfo,
  RecordClient,
  SupervisorClient,
  VolumeClient,
  VolumeInfo,
} from "../../provider/engines/port.ts";
import { recordClient } from "../../provider/engines/docker/volumes.ts";
import { ConflictError, NotFoundError } from "../../provider/errors.ts";
import { systemClock, type Clock } from "../../provider/runtime/local/poll.ts";
import { MEMORY_CAPABILITIES, notSupported } from "./memory-capabilities.ts";
import { containerInfo, exitSignal, type MemContainer } from "./memory-containers.ts";
import { memoryExecClient, type ExecHandler, type MemExec } from "./memory-exec.ts";
import { fullRef, matches, wanted } from "./memory-filters.ts";

export { MEMORY_CAPABILITIES, NotSupportedError } from "./memory-capabilities.ts";
export type { ExecAnswer, ExecCall, ExecHandler } from "./memory-exec.ts";

/*
 * An engine held in memory, for unit tests of the runtime: containers with
 * names, labels and states, records (labelled volumes, through the Docker
 * engine's own record client), events, and execs answered by a handler the
 * test scripts. It answers as the Docker engine does where the runtime can
 * tell (the same error classes and messages, listings newest first with
 * times in whole seconds, an event buffer of 256), and refuses with
 * NotSupportedError what it cannot do: no process runs, no file exists, no
 * byte goes over a network. Never offered to users.
 */

export interface MemoryEngineOptions {
  clock?: Clock;
  /** Images that exist from the start; default sandfleet/busybox. */
  images?: readonly string[];
  /** Execs' answers; later handlers (`onExec`) are asked first. */
  exec?: ExecHandler;
}

/** Docker keeps this many recent events. */
const EVENT_BUFFER = 256;
const SIGNALS: Readonly<Record<string, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15, SIGUSR1: 10 };

export class MemoryEngine implements Engine {
  readonly host = "memory://";
  readonly clock: Clock;
  readonly containers: ContainerClient;
  readonly images: ImageClient;
  readonly networks: NetworkClient;
  readonly volumes: VolumeClient;
  readonly records: RecordClient;
  readonly supervisors: SupervisorClient;
  readonly events: EventClient;
  readonly exec: ExecClient;

  readonly #containers = new Map<string, MemContainer>();
  readonly #images = new Map<string, ImageInfo>();
  readonly #volumes = new Map<string, VolumeInfo>();
  readonly #networks = new Map<string, NetworkInfo>();
  readonly #execs = new Map<string, MemExec>();
  /** Every event, of containers and of volumes alike, in one buffer of the newest 256: the Docker engine's. */
  #events: { type: "container" | "volume"; event: EngineEvent }[] = [];
  readonly #watchers = new Set<(event: EngineEvent) => void>();
  #handlers: ExecHandler[] = [];
  #serial = 0;
  /** Every call made, by client and method: what a test may count. */
  readonly calls = new Map<string, number>();

  constructor(options: MemoryEngineOptions = {}) {
    this.clock = options.clock ?? systemClock;
    for (const ref of options.images ?? ["sandfleet/busybox"]) this.addImage(ref);
    if (options.exec) this.#handlers.push(options.exec);
    this.containers = this.#counted("containers", this.#containerClient());
    this.images = this.#counted("images", this.#imageClient());
    this.networks = this.#counted("networks", this.#networkClient());
    this.volumes = this.#counted("volumes", this.#volumeClient());
    // The Docker engine's own: records are labelled volumes, made once per name.
    this.records = recordClient(this.volumes);
    this.supervisors = this.#counted("supervisors", this.#supervisorClient());
    this.events = this.#eventClient();
    this.exec = this.#counted(
      "exec",
      memoryExecClient({
        execs: this.#execs,
        handlers: () => this.#handlers,
        must: (ref, what) => this.#must(ref, what),
        find: (ref) => this.#find(ref),
        emit: (c, action, extra) => {
          this.#emit(c, action, extra);
        },
        newId: (kind) => this.#hash(`${kind} ${String(++this.#serial)}`),
        info: (c) => containerInfo(c, this.#images.get(fullRef(c.spec.image))?.id ?? ""),
      }),
    );
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  info(): Promise<EngineInfo> {
    return Promise.resolve({
      kind: "memory",
      capabilities: MEMORY_CAPABILITIES,
      storageDriver: "memory",
      backingFilesystem: "",
      cpus: 2,
      memoryBytes: 4 * 1024 ** 3,
      architecture: "x86_64",
      os: "linux",
      apiVersion: "1.41",
    });
  }

  // ---- what a test does to the engine, as the world would ----

  /** An image of that reference, as `docker load` would leave it. */
  addImage(ref: string, config: Partial<ImageInfo> = {}): void {
    const id = `sha256:${this.#hash(`image ${ref}`)}`;
    this.#images.set(fullRef(ref), {
      id,
      tags: [fullRef(ref)],
      labels: {},
      env: [],
      cmd: ["sh"],
      entrypoint: undefined,
      user: "",
      workdir: "",
      ...config,
    });
  }

  /** Answers execs with `handler` first; the handlers given before answer what it does not know. */
  onExec(handler: ExecHandler): void {
    this.#handlers.unshift(handler);
  }

  /** The container's main process ends by itself with `exitCode`, as a crash or an exit would. */
  exit(idOrName: string, exitCode: number): void {
    const c = this.#find(idOrName);
    if (!c) throw new Error(`no container ${idOrName} in the in-memory engine`);
    this.#stop(c, exitCode);
  }

  /** Every container's name, newest first: for messages of failed tests. */
  names(): string[] {
    return this.#listed().map((c) => c.name);
  }

  // ---- the clients ----

  #containerClient(): ContainerClient {
    return {
      create: async (spec) => {
        await Promise.resolve();
        const name = spec.name ?? `memory_${String(++this.#serial)}`;
        const holder = this.#byName(name);
        if (holder) {
          throw new ConflictError(
            `create container ${name}: Conflict. The container name "/${name}" is already in use by container "${holder.id}". You have to remove (or rename) that container to be able to reuse that name.`,
          );
        }
        if (!this.#images.has(fullRef(spec.image))) {
          throw new NotFoundError(`create container ${name}: No such image: ${fullRef(spec.image)}`);
        }
        if (!["none", "bridge", "host"].includes(spec.networkMode) && !this.#network(spec.networkMode)) {
          throw new NotFoundError(`create container ${name}: network ${spec.networkMode} not found`);
        }
        if (spec.supervisor) throw notSupported("a sandbox's supervisor");
        if (spec.ports?.length) throw notSupported("publishing a port");
        if (spec.diskBytes !== undefined) throw notSupported("a disk bound");
        if (spec.mounts?.some((m) => m.subPath !== undefined)) throw notSupported("mounting part of a volume");
        // Docker makes a named volume a mount names when there is none.
        for (const mount of spec.mounts ?? []) {
          if (!this.#volumes.has(mount.volume)) this.#makeVolume(mount.volume, {});
        }
        const id = this.#hash(`container ${String(++this.#serial)}`);
        this.#containers.set(id, {
          id,
          name,
          spec: { ...spec, name },
          status: "created",
          exitCode: 0,
          createdMs: this.clock.now(),
          startedMs: undefined,
          finishedMs: undefined,
          execIds: [],
          exited: exitSignal(),
        });
        this.#emit(this.#must(id, "create container"), "create");
        return id;
      },
      start: async (id) => {
        const c = this.#must(id, "start container");
        await Promise.resolve();
        if (c.status === "running" || c.status === "paused") return; // Docker: 304, not an error
        if (c.status !== "created" && c.status !== "exited") {
          throw new ConflictError(`start container ${id}: container ${c.id} is ${c.status}`);
        }
        c.status = "running";
        c.exitCode = 0;
        c.startedMs = this.clock.now();
        c.finishedMs = undefined;
        c.exited = exitSignal();
        this.#emit(c, "start");
      },
      pause: async (id) => {
        const c = this.#must(id, "pause container");
        await Promise.resolve();
        if (c.status === "paused")
          throw new ConflictError(`pause container ${id}: Container ${c.id} is already paused`);
        if (c.status !== "running") throw new ConflictError(`pause container ${id}: Container ${c.id} is not running`);
        c.status = "paused";
        this.#emit(c, "pause");
      },
      unpause: async (id) => {
        const c = this.#must(id, "unpause container");
        await Promise.resolve();
        if (c.status !== "paused") throw new ConflictError(`unpause container ${id}: Container ${c.id} is not paused`);
        c.status = "running";
        this.#emit(c, "unpause");
      },
      checkpoint: () => Promise.reject(notSupported("a checkpoint")),
      checkpoints: () => Promise.resolve([]),
      restore: () => Promise.reject(notSupported("a checkpoint")),
      removeCheckpoint: () => Promise.reject(notSupported("a checkpoint")),
      stats: () => Promise.reject(notSupported("a container's stats")),
      inspect: async (id) => {
        await Promise.resolve();
        const c = this.#find(id);
        return c && containerInfo(c, this.#images.get(fullRef(c.spec.image))?.id ?? "");
      },
      kill: async (id, signal = "SIGKILL") => {
        await Promise.resolve();
        const c = this.#find(id);
        // 409 (not running) and 404 (gone) both mean there is nothing to kill, as the Docker engine says.
        if (!c || (c.status !== "running" && c.status !== "paused")) return;
        const number = SIGNALS[signal] ?? Number(signal);
        if (!Number.isInteger(number)) throw notSupported(`the signal ${signal}`);
        this.#emit(c, "kill", { signal: String(number) });
        this.#stop(c, 128 + number);
      },
      remove: async (id) => {
        await Promise.resolve();
        const c = this.#find(id);
        if (!c) return;
        if (c.status === "running" || c.status === "paused") {
          this.#emit(c, "kill", { signal: "9" });
          this.#stop(c, 137);
        }
        this.#containers.delete(c.id);
        this.#emit(c, "destroy");
      },
      update: async (id, limits) => {
        const c = this.#must(id, "update container");
        await Promise.resolve();
        c.spec = { ...c.spec, ...limits };
      },
      rename: async (id, name, options = {}) => {
        const c = this.#must(id, "rename container");
        await Promise.resolve();
        if (options.from !== undefined && c.name !== options.from) {
          throw new ConflictError(`rename container ${id}: its name is no longer ${options.from}`);
        }
        // The Docker engine answers a rename to the name it has already as a name taken (409).
        if (c.name === name) {
          throw new ConflictError(
            `rename container ${id}: Error response from daemon: Renaming a container with the same name as its current name`,
          );
        }
        const holder = this.#byName(name);
        if (holder) {
          throw new ConflictError(
            `rename container ${id}: Conflict. The container name "/${name}" is already in use by container "${holder.id}". You have to remove (or rename) that container to be able to reuse that name.`,
          );
        }
        const oldName = c.name;
        c.name = name;
        this.#emit(c, "rename", { oldName: `/${oldName}` });
      },
      list: async (labels) => {
        await Promise.resolve();
        return this.#listed()
          .filter((c) => matches(c.spec.labels, labels))
          .map((c): ContainerSummary => this.#summary(c));
      },
      wait: async (id) => {
        const c = this.#must(id, "wait for container");
        if (c.status !== "running" && c.status !== "paused") return c.exitCode;
        return c.exited.promise;
      },
      logs: () => Promise.reject(notSupported("a container's logs")),
      connect: () => Promise.reject(notSupported("a stream to a sandbox's port")),
    };
  }

  #imageClient(): ImageClient {
    return {
      inspect: async (ref) => {
        await Promise.resolve();
        return this.#images.get(fullRef(ref)) ?? [...this.#images.values()].find((i) => i.id === ref);
      },
      build: () => Promise.reject(notSupported("an image build")),
      commit: () => Promise.reject(notSupported("a snapshot")),
      importArchive: () => Promise.reject(notSupported("an image import")),
      tag: async (ref, repo, tag) => {
        await Promise.resolve();
        const image = this.#images.get(fullRef(ref));
        if (!image) throw new NotFoundError(`tag image ${ref}: No such image: ${ref}`);
        this.#images.set(`${repo}:${tag}`, { ...image, tags: [...image.tags, `${repo}:${tag}`] });
      },
      push: () => Promise.reject(notSupported("a push to a registry")),
      remove: async (ref) => {
        await Promise.resolve();
        const image = this.#images.get(fullRef(ref));
        if (!image) return "absent";
        const inUse = [...this.#containers.values()].some(
          (c) => this.#images.get(fullRef(c.spec.image))?.id === image.id,
        );
        if (inUse && image.tags.length <= 1) return "in-use";
        this.#images.delete(fullRef(ref));
        return "removed";
      },
      list: async (labels) => {
        await Promise.resolve();
        return [...this.#images.values()]
          .filter((i) => matches(i.labels, labels))
          .map((i) => ({ id: i.id, tags: i.tags, labels: i.labels }));
      },
    };
  }

  #networkClient(): NetworkClient {
    return {
      create: async (spec) => {
        await Promise.resolve();
        if (this.#network(spec.name)) {
          throw new ConflictError(`create network ${spec.name}: network with name ${spec.name} already exists`);
        }
        const id = this.#hash(`network ${String(++this.#serial)}`);
        this.#networks.set(id, {
          id,
          name: spec.name,
          labels: { ...spec.labels },
          internal: spec.internal,
          masquerade: spec.masquerade,
          subnet: undefined,
          gateway: undefined,
          bridge: spec.bridge,
        });
        return id;
      },
      inspect: async (idOrName) => {
        await Promise.resolve();
        return this.#network(idOrName);
      },
      remove: async (idOrName) => {
        await Promise.resolve();
        const network = this.#network(idOrName);
        if (!network) return;
        if ([...this.#containers.values()].some((c) => c.spec.networkMode === network.name)) {
          throw new ConflictError(
            `remove network ${idOrName}: error while removing network: network ${network.name} has active endpoints`,
          );
        }
        this.#networks.delete(network.id);
      },
      list: async (labels) => {
        await Promise.resolve();
        return [...this.#networks.values()].filter((n) => matches(n.labels, labels));
      },
    };
  }

  #volumeClient(): VolumeClient {
    return {
      create: async (spec) => {
        await Promise.resolve();
        // As the Docker engine: a second create of a name answers with the volume made first, labels and all.
        return this.#volumes.get(spec.name) ?? this.#makeVolume(spec.name, spec.labels);
      },
      inspect: async (name) => {
        await Promise.resolve();
        return this.#volumes.get(name);
      },
      remove: async (name) => {
        await Promise.resolve();
        if (!this.#volumes.has(name)) return;
        const user = [...this.#containers.values()].find((c) => c.spec.mounts?.some((m) => m.volume === name));
        if (user) throw new ConflictError(`remove volume ${name}: volume is in use - [${user.id}]`);
        const volume = this.#volumes.get(name);
        this.#volumes.delete(name);
        if (volume) this.#log("volume", this.#volumeEvent(volume, "destroy"));
      },
      list: async (labels) => {
        await Promise.resolve();
        return [...this.#volumes.values()].filter((v) => matches(v.labels, labels));
      },
    };
  }

  #supervisorClient(): SupervisorClient {
    return {
      place: () => Promise.reject(notSupported("a sandbox's supervisor (make sandboxes with supervisor: false)")),
      list: () => Promise.resolve([]),
      remove: () => Promise.resolve(true),
    };
  }

  #eventClient(): EventClient {
    return {
      containerEvents: async (params) => {
        await Promise.resolve();
        // The Docker engine takes whole seconds: from the start of `since`'s second to the end of `until`'s.
        const fromMs = Math.floor(params.sinceMs / 1000) * 1000;
        const toMs = Math.ceil(params.untilMs / 1000) * 1000;
        return this.#containerEvents().filter(
          (e) =>
            e.timeMs >= fromMs &&
            e.timeMs <= toMs &&
            wanted(e, params.actions, params.labels) &&
            (params.containerId === undefined || e.containerId === params.containerId),
        );
      },
      watch: (params) => this.#watch(params),
      heldSince: async () => {
        await Promise.resolve();
        return this.#events.length < EVENT_BUFFER ? 0 : (this.#events[0]?.event.timeMs ?? 0);
      },
    };
  }

  #containerEvents(): EngineEvent[] {
    return this.#events.filter((e) => e.type === "container").map((e) => e.event);
  }

  async *#watch(params: Parameters<EventClient["watch"]>[0]): AsyncGenerator<EngineEvent> {
    const queue: EngineEvent[] = [];
    let wake: (() => void) | undefined;
    const take = (event: EngineEvent) => {
      if (!wanted(event, params.actions, params.labels)) return;
      queue.push(event);
      wake?.();
    };
    if (params.sinceMs !== undefined) {
      const fromMs = Math.floor(params.sinceMs / 1000) * 1000;
      for (const event of this.#containerEvents()) if (event.timeMs >= fromMs) take(event);
    }
    this.#watchers.add(take);
    const aborted = () => wake?.();
    params.signal.addEventListener("abort", aborted, { once: true });
    try {
      while (!params.signal.aborted) {
        const next = queue.shift();
        if (next) {
          yield next;
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      this.#watchers.delete(take);
      params.signal.removeEventListener("abort", aborted);
    }
  }

  // ---- the state ----

  #stop(c: MemContainer, exitCode: number): void {
    if (c.status !== "running" && c.status !== "paused") return;
    c.status = "exited";
    c.exitCode = exitCode;
    c.finishedMs = this.clock.now();
    for (const execId of c.execIds) {
      const exec = this.#execs.get(execId);
      if (exec?.running) exec.abort.abort(137);
    }
    this.#emit(c, "die", { exitCode: String(exitCode) });
    c.exited.resolve(exitCode);
  }

  #makeVolume(name: string, labels: Labels): VolumeInfo {
    const volume = { name, labels: { ...labels }, mountpoint: `/memory/volumes/${name}/_data` };
    this.#volumes.set(name, volume);
    this.#log("volume", this.#volumeEvent(volume, "create"));
    return volume;
  }

  #volumeEvent(volume: VolumeInfo, action: string): EngineEvent {
    return {
      timeMs: this.clock.now(),
      action,
      detail: "",
      containerId: "",
      execId: undefined,
      attributes: { ...volume.labels, driver: "local" },
    };
  }

  #network(idOrName: string): NetworkInfo | undefined {
    return this.#networks.get(idOrName) ?? [...this.#networks.values()].find((n) => n.name === idOrName);
  }

  #byName(name: string): MemContainer | undefined {
    return [...this.#containers.values()].find((c) => c.name === name);
  }

  /** As the Docker engine resolves a reference: a whole id, a name, then a unique id prefix. */
  #find(ref: string): MemContainer | undefined {
    const exact = this.#containers.get(ref) ?? this.#byName(ref.replace(/^\//, ""));
    if (exact) return exact;
    const prefixed = [...this.#containers.values()].filter((c) => ref.length > 0 && c.id.startsWith(ref));
    return prefixed.length === 1 ? prefixed[0] : undefined;
  }

  #must(ref: string, what: string): MemContainer {
    const c = this.#find(ref);
    if (!c) throw new NotFoundError(`${what} ${ref}: No such container: ${ref}`);
    return c;
  }

  /** Newest first, as the Docker engine lists them. */
  #listed(): MemContainer[] {
    return [...this.#containers.values()].reverse();
  }

  #summary(c: MemContainer): ContainerSummary {
    return {
      id: c.id,
      name: c.name,
      labels: { ...c.spec.labels },
      status: c.status,
      // The Docker engine's listing says when in whole seconds.
      createdMs: Math.floor(c.createdMs / 1000) * 1000,
      ports: {},
    };
  }

  #emit(c: MemContainer, action: string, extra: Record<string, string> = {}): void {
    const [name, ...detail] = action.split(": ");
    const event: EngineEvent = {
      timeMs: this.clock.now(),
      action: name ?? action,
      detail: detail.join(": "),
      containerId: c.id,
      execId: extra.execID,
      attributes: { ...c.spec.labels, image: c.spec.image, name: c.name, ...extra },
    };
    this.#log("container", event);
    for (const watcher of this.#watchers) watcher(event);
  }

  #log(type: "container" | "volume", event: EngineEvent): void {
    this.#events.push({ type, event });
    if (this.#events.length > EVENT_BUFFER) this.#events = this.#events.slice(-EVENT_BUFFER);
  }

  #hash(seed: string): string {
    return createHash("sha256").update(seed).digest("hex");
  }

  /** The client with each call counted under `client.method`. */
  #counted<T extends object>(client: string, target: T): T {
    const entries = Object.entries(target).map(([key, value]: [string, unknown]) => [
      key,
      typeof value === "function"
        ? (...args: unknown[]) => {
            const name = `${client}.${key}`;
            this.calls.set(name, (this.calls.get(name) ?? 0) + 1);
            return (value as (...a: unknown[]) => unknown)(...args);
          }
        : value,
    ]);
    return Object.fromEntries(entries) as T;
  }
}
