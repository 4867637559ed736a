import { PassThrough } from "node:stream";
import { ConflictError, EngineError, InvalidArgumentError, NotFoundError } from "../../errors.ts";
import { Limiter } from "../limiter.ts";
import { connectLoopback } from "../loopback.ts";
import { requireServedPort } from "../served-port.ts";
import { readAll } from "../../streams.ts";
import { demuxInto, demuxBuffer } from "./demux.ts";
import { engineCall, engineLookup } from "./errors.ts";
import type { EngineHttp } from "./http.ts";
import type { RawContainer, RawContainerSummary, RawHealthConfig } from "./raw.ts";
import { supervisorMount } from "./supervisor.ts";
import { listOf, mapOf } from "./values.ts";
import type { ContainerClient, ContainerInfo, ContainerSpec, ContainerStatus, HealthCheck, Labels } from "../port.ts";

/** Removals, and creates or starts, in flight at once on one engine (see Limiter). */
const REMOVALS_AT_ONCE = 8;
const MAKINGS_AT_ONCE = 8;
/** How long a container another caller is removing may take to go before it counts as stuck. */
const REMOVAL_WAIT_MS = 30_000;

export function containerClient(docker: EngineHttp): ContainerClient {
  const path = (id: string, action = "") => `/containers/${encodeURIComponent(id)}${action}`;
  const removals = new Limiter(REMOVALS_AT_ONCE);
  const makings = new Limiter(MAKINGS_AT_ONCE);
  const gone = async (id: string) =>
    (await engineLookup(`inspect container ${id}`, () => docker.json("GET", path(id, "/json")))) === undefined;

  /** Removes a container and returns once it is gone, or says what the engine left half-done. */
  const removeWhole = async (id: string): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        await engineLookup(`remove container ${id}`, () =>
          docker.json("DELETE", path(id), { query: { force: true, v: true } }),
        );
        return;
      } catch (error) {
        if (/already in progress/.test((error as Error).message)) {
          // Another caller is removing it: the outcome is the same, once it is gone.
          const deadline = Date.now() + REMOVAL_WAIT_MS;
          while (!(await gone(id))) {
            if (Date.now() > deadline) {
              throw new EngineError(
                `container ${id} is stuck in removal on the engine ("Removal In Progress" for ${String(REMOVAL_WAIT_MS / 1000)} s); ` +
                  "the engine finishes it when it restarts",
              );
            }
            await new Promise((resolve) => setTimeout(resolve, 250));
          }
          return;
        }
        // An engine under load may give up on a container's end ("did not receive an exit event"): asked again.
        if (!(error instanceof EngineError) || attempt >= 3) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
      }
    }
  };

  return {
    async create(spec) {
      const created = await makings.run(() =>
        engineCall(`create container from image ${spec.image}`, () =>
          docker.json<{ Id: string }>("POST", "/containers/create", {
            query: { name: spec.name },
            body: toCreateBody(spec),
          }),
        ),
      );
      return created.Id;
    },
    async start(id) {
      await makings.run(() => engineCall(`start container ${id}`, () => docker.json("POST", path(id, "/start"))));
    },
    async inspect(id) {
      const info = await engineLookup(`inspect container ${id}`, () =>
        docker.json<RawContainer>("GET", path(id, "/json")),
      );
      return info && fromInspect(info);
    },
    async pause(id) {
      await engineCall(`pause container ${id}`, () => docker.json("POST", path(id, "/pause")));
    },
    async unpause(id) {
      await engineCall(`unpause container ${id}`, () => docker.json("POST", path(id, "/unpause")));
    },
    async checkpoint(id, checkpointId) {
      await engineCall(`checkpoint container ${id}`, () =>
        docker.json("POST", path(id, "/checkpoints"), { body: { CheckpointID: checkpointId, Exit: true } }),
      );
    },
    async checkpoints(id) {
      const found = await engineCall(`list the checkpoints of container ${id}`, () =>
        docker.json<{ Name?: string }[] | null>("GET", path(id, "/checkpoints")),
      );
      return (found ?? []).flatMap((c) => (c.Name ? [c.Name] : []));
    },
    async restore(id, checkpointId) {
      await engineCall(`restore container ${id} from checkpoint ${checkpointId}`, () =>
        docker.json("POST", path(id, "/start"), { query: { checkpoint: checkpointId } }),
      );
      await engineCall(`remove checkpoint ${checkpointId} of container ${id}`, () =>
        docker.json("DELETE", path(id, `/checkpoints/${encodeURIComponent(checkpointId)}`)),
      );
    },
    async removeCheckpoint(id, checkpointId) {
      await engineCall(`remove checkpoint ${checkpointId} of container ${id}`, () =>
        docker.json("DELETE", path(id, `/checkpoints/${encodeURIComponent(checkpointId)}`)),
      );
    },
    async stats(id, options = {}) {
      const disk = options.disk !== false;
      const [raw, sized] = await engineCall(`read the stats of container ${id}`, () =>
        Promise.all([
          // one-shot: the counters now, without the engine's second sample a second later (ignored before API 1.41).
          docker.json<RawStats>("GET", path(id, "/stats"), {
            query: { stream: false, ...(disk ? {} : { "one-shot": true }) },
          }),
          disk
            ? docker.json<{ SizeRw?: number }>("GET", path(id, "/json"), { query: { size: true } })
            : Promise.resolve<{ SizeRw?: number }>({}),
        ]),
      );
      const networks = Object.values(raw.networks ?? {});
      return {
        cpuNs: raw.cpu_stats?.cpu_usage?.total_usage ?? 0,
        memoryBytes: raw.memory_stats?.usage ?? 0,
        memoryLimitBytes: raw.memory_stats?.limit ?? 0,
        pids: raw.pids_stats?.current ?? 0,
        networkRxBytes: networks.reduce((sum, n) => sum + (n.rx_bytes ?? 0), 0),
        networkTxBytes: networks.reduce((sum, n) => sum + (n.tx_bytes ?? 0), 0),
        diskBytes: sized.SizeRw ?? 0,
      };
    },
    async kill(id, signal = "SIGKILL") {
      try {
        await engineCall(`kill container ${id}`, () => docker.json("POST", path(id, "/kill"), { query: { signal } }));
      } catch (error) {
        // 409: not running; 404: gone. Both mean there is nothing to kill.
        if (!(error instanceof ConflictError || error instanceof NotFoundError)) throw error;
      }
    },
    async remove(id) {
      await removals.run(() => removeWhole(id));
    },
    async update(id, limits) {
      await engineCall(`update container ${id}`, () =>
        docker.json("POST", path(id, "/update"), {
          body: {
            ...(limits.nanoCpus !== undefined ? { NanoCpus: limits.nanoCpus } : {}),
            ...(limits.memoryBytes !== undefined ? { Memory: limits.memoryBytes, MemorySwap: limits.memoryBytes } : {}),
            ...(limits.pidsLimit !== undefined ? { PidsLimit: limits.pidsLimit } : {}),
          },
        }),
      );
    },
    async rename(id, name) {
      try {
        await engineCall(`rename container ${id}`, () => docker.json("POST", path(id, "/rename"), { query: { name } }));
      } catch (error) {
        // Someone renamed it to that very name first: the same outcome as a name taken (409).
        if (error instanceof InvalidArgumentError && /same name as its current name/.test(error.message)) {
          throw new ConflictError(error.message);
        }
        throw error;
      }
    },
    async list(labels) {
      const found = await engineCall("list containers", () =>
        docker.json<RawContainerSummary[]>("GET", "/containers/json", {
          query: { all: true, filters: JSON.stringify({ label: labelFilters(labels) }) },
        }),
      );
      return found.map((c) => ({
        id: c.Id,
        name: (listOf(c.Names)[0] ?? "").replace(/^\//, ""),
        labels: c.Labels ?? {},
        status: c.State as ContainerStatus,
        createdMs: c.Created * 1000,
        ports: Object.fromEntries(
          listOf(c.Ports)
            .filter((p) => p.Type === "tcp" && p.PublicPort !== undefined && (p.IP === "127.0.0.1" || !p.IP))
            .map((p) => [p.PrivatePort, p.PublicPort ?? 0]),
        ),
      }));
    },
    async logs(id, options) {
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      const query = { stdout: true, stderr: true, follow: options.follow, tail: options.tail };
      const stream = await engineCall(`${options.follow ? "follow" : "read"} logs of container ${id}`, () =>
        docker.stream("GET", path(id, "/logs"), { query }),
      );
      // Logs so far are read whole, so that a failed read fails this call rather than ending the streams early.
      if (options.follow) demuxInto(stream, stdout, stderr);
      else demuxBuffer(await readAll(stream), stdout, stderr);
      return { stdout, stderr };
    },
    async connect(id, port) {
      const info = await engineLookup(`inspect container ${id}`, () =>
        docker.json<RawContainer>("GET", path(id, "/json")),
      );
      if (!info?.State.Running) throw new InvalidArgumentError(`sandbox ${id} is not running`);
      const published = publishedPorts(info.NetworkSettings.Ports);
      requireServedPort(id, port, Object.keys(published).map(Number));
      // The engine publishes each port on this host's loopback address itself.
      return connectLoopback(published[port] ?? 0);
    },
    async wait(id) {
      const result = await engineCall(`wait for container ${id}`, () =>
        docker.json<{ StatusCode: number }>("POST", path(id, "/wait")),
      );
      return result.StatusCode;
    },
  };
}

/** The engine's label filters; an empty value matches any value of the label. */
/** The engine's stats answer, the fields sandfleet reads. */
interface RawStats {
  cpu_stats?: { cpu_usage?: { total_usage?: number } };
  memory_stats?: { usage?: number; limit?: number };
  pids_stats?: { current?: number };
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }>;
}

export function labelFilters(labels: Labels): string[] {
  return Object.entries(labels).map(([k, v]) => (v === "" ? k : `${k}=${v}`));
}

function toCreateBody(spec: ContainerSpec): Record<string, unknown> {
  // This engine keeps no allowlist itself (it has no EgressClient): the egress daemon does. One handed
  // here anyway would be dropped without a word, so it is refused.
  if (spec.egressAllow) {
    throw new InvalidArgumentError("egressAllow: the Docker engine keeps no allowlist itself; the egress daemon does");
  }
  return {
    Image: spec.image,
    ...(spec.cmd ? { Cmd: [...spec.cmd] } : {}),
    ...(spec.entrypoint ? { Entrypoint: [...spec.entrypoint] } : {}),
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    Labels: { ...spec.labels },
    ...(spec.workdir ? { WorkingDir: spec.workdir } : {}),
    ...(spec.user ? { User: spec.user } : {}),
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: false,
    OpenStdin: false,
    NetworkDisabled: spec.networkMode === "none",
    // Applies to the network named by NetworkMode.
    ...(spec.macAddress ? { MacAddress: spec.macAddress } : {}),
    ...(spec.healthcheck
      ? {
          Healthcheck: {
            Test: ["CMD", ...spec.healthcheck.argv],
            Interval: spec.healthcheck.intervalMs * 1e6,
            Timeout: spec.healthcheck.timeoutMs * 1e6,
            Retries: spec.healthcheck.retries,
            StartPeriod: spec.healthcheck.startPeriodMs * 1e6,
          },
        }
      : {}),
    HostConfig: {
      NanoCpus: spec.nanoCpus,
      Memory: spec.memoryBytes,
      // Equal to Memory: no swap, so the memory limit is the real limit.
      MemorySwap: spec.memoryBytes,
      PidsLimit: spec.pidsLimit,
      ...(spec.diskBytes !== undefined ? { StorageOpt: { size: String(spec.diskBytes) } } : {}),
      ReadonlyRootfs: spec.readOnlyRootfs,
      NetworkMode: spec.networkMode,
      CapDrop: [...spec.capDrop],
      ...(spec.capAdd?.length ? { CapAdd: [...spec.capAdd] } : {}),
      ...(spec.dns?.length ? { Dns: [...spec.dns] } : {}),
      SecurityOpt: [...spec.securityOpt],
      Privileged: false,
      Runtime: spec.runtime,
      Init: spec.init,
      ...(spec.tmpfs ? { Tmpfs: { ...spec.tmpfs } } : {}),
      Mounts: [
        ...(spec.mounts ?? []),
        ...(spec.supervisor ? [supervisorMount(spec.supervisor.version, spec.supervisor.dir)] : []),
      ].map((m) => ({
        Type: "volume",
        Source: m.volume,
        Target: m.target,
        ReadOnly: m.readOnly,
        ...(m.subPath ? { VolumeOptions: { Subpath: m.subPath } } : {}),
      })),
      // Published on the loopback address only, on a port the engine picks.
      PortBindings: Object.fromEntries(
        (spec.ports ?? []).map((p) => [`${p}/tcp`, [{ HostIp: "127.0.0.1", HostPort: "" }]]),
      ),
      RestartPolicy: { Name: spec.restartUnlessStopped ? "unless-stopped" : "no" },
      ...(spec.log
        ? {
            LogConfig: {
              Type: "json-file",
              Config: { "max-size": String(spec.log.maxFileBytes), "max-file": String(spec.log.maxFiles) },
            },
          }
        : {}),
    },
    ...(spec.ports?.length ? { ExposedPorts: Object.fromEntries(spec.ports.map((p) => [`${p}/tcp`, {}])) } : {}),
  };
}

function fromInspect(info: RawContainer): ContainerInfo {
  const host = info.HostConfig;
  const config = info.Config;
  return {
    id: info.Id,
    name: info.Name.replace(/^\//, ""),
    image: config.Image ?? "",
    imageId: info.Image,
    labels: mapOf(config.Labels),
    status: info.State.Status as ContainerStatus,
    running: info.State.Running,
    exitCode: info.State.ExitCode,
    oomKilled: info.State.OOMKilled,
    createdAt: info.Created,
    startedAt: info.State.StartedAt,
    finishedAt: info.State.FinishedAt,
    user: config.User ?? "",
    workdir: config.WorkingDir ?? "",
    env: parseEnv(listOf(config.Env)),
    cmd: listOf(config.Cmd),
    entrypoint: listOf(config.Entrypoint),
    nanoCpus: host.NanoCpus ?? 0,
    memoryBytes: host.Memory ?? 0,
    pidsLimit: host.PidsLimit ?? 0,
    diskBytes: diskBytesOf(host.StorageOpt),
    readOnlyRootfs: host.ReadonlyRootfs ?? false,
    networkMode: host.NetworkMode ?? "",
    capDrop: listOf(host.CapDrop),
    capAdd: listOf(host.CapAdd),
    securityOpt: listOf(host.SecurityOpt),
    privileged: host.Privileged ?? false,
    runtime: host.Runtime ?? "runc",
    init: host.Init === true,
    healthcheck: healthcheckOf(config.Healthcheck),
    health: info.State.Health?.Status,
    binds: listOf(host.Binds),
    mounts: listOf(info.Mounts)
      .filter((m) => m.Type === "volume" && m.Name)
      .map((m) => ({ volume: m.Name ?? "", target: m.Destination, readOnly: !m.RW })),
    ports: publishedPorts(info.NetworkSettings.Ports),
    pid: info.State.Pid,
    execIds: listOf(info.ExecIDs),
    addresses: Object.fromEntries(
      Object.entries(mapOf(info.NetworkSettings.Networks))
        .filter(([, n]) => n.IPAddress)
        .map(([name, n]) => [name, n.IPAddress]),
    ),
    macAddresses: Object.fromEntries(
      Object.entries(mapOf(info.NetworkSettings.Networks))
        .filter(([, n]) => n.MacAddress)
        .map(([name, n]) => [name, n.MacAddress ?? ""]),
    ),
  };
}

/** Docker keeps the size as given: bytes, or a number with a unit (10G). */
function diskBytesOf(options: Record<string, string> | null | undefined): number | undefined {
  const size = options?.size;
  if (!size) return undefined;
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(size.trim());
  if (!match) return undefined;
  const power = ["", "k", "m", "g", "t"].indexOf((match[2] ?? "").toLowerCase());
  return Math.round(Number(match[1]) * 1024 ** power);
}

function healthcheckOf(check: RawHealthConfig | null | undefined): HealthCheck | undefined {
  const test = check?.Test ?? [];
  if (!check || test[0] !== "CMD") return undefined;
  return {
    argv: test.slice(1),
    intervalMs: (check.Interval ?? 0) / 1e6,
    timeoutMs: (check.Timeout ?? 0) / 1e6,
    retries: check.Retries ?? 0,
    startPeriodMs: (check.StartPeriod ?? 0) / 1e6,
  };
}

function publishedPorts(
  ports: Record<string, { HostIp: string; HostPort: string }[] | null> | null | undefined,
): Record<number, number> {
  const published: Record<number, number> = {};
  for (const [key, bindings] of Object.entries(ports ?? {})) {
    const binding = bindings?.find((b) => b.HostIp === "127.0.0.1") ?? bindings?.[0];
    if (binding && key.endsWith("/tcp")) published[Number.parseInt(key, 10)] = Number(binding.HostPort);
  }
  return published;
}

function parseEnv(entries: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf("=");
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}
