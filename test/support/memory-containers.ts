import type { ContainerInfo, ContainerSpec, ContainerStatus } from "../../provider/engines/port.ts";

// A container of the in-memory engine (memory-engine.ts), and how the Docker engine would describe it.

/** What the Docker engine says of a time that has not come: a container never started or still running. */
const NO_TIME = "0001-01-01T00:00:00Z";

export interface MemContainer {
  id: string;
  name: string;
  spec: ContainerSpec;
  status: ContainerStatus;
  exitCode: number;
  createdMs: number;
  startedMs: number | undefined;
  finishedMs: number | undefined;
  execIds: string[];
  exited: { promise: Promise<number>; resolve: (code: number) => void };
}

export function exitSignal(): MemContainer["exited"] {
  let resolve: (code: number) => void = () => undefined;
  const promise = new Promise<number>((r) => (resolve = r));
  return { promise, resolve };
}

/** The container as the Docker engine's inspect describes it; nothing runs, so no pid, no address, no port. */
export function containerInfo(c: MemContainer, imageId: string): ContainerInfo {
  const spec = c.spec;
  const running = c.status === "running" || c.status === "paused";
  return {
    id: c.id,
    name: c.name,
    image: spec.image,
    imageId,
    labels: { ...spec.labels },
    status: c.status,
    running,
    exitCode: c.exitCode,
    oomKilled: false,
    createdAt: new Date(c.createdMs).toISOString(),
    startedAt: c.startedMs === undefined ? NO_TIME : new Date(c.startedMs).toISOString(),
    finishedAt: c.finishedMs === undefined ? NO_TIME : new Date(c.finishedMs).toISOString(),
    user: spec.user ?? "",
    workdir: spec.workdir ?? "",
    env: { ...spec.env },
    cmd: [...(spec.cmd ?? [])],
    entrypoint: [...(spec.entrypoint ?? [])],
    nanoCpus: spec.nanoCpus,
    memoryBytes: spec.memoryBytes,
    pidsLimit: spec.pidsLimit,
    diskBytes: spec.diskBytes,
    readOnlyRootfs: spec.readOnlyRootfs,
    networkMode: spec.networkMode,
    capDrop: [...spec.capDrop],
    capAdd: [...(spec.capAdd ?? [])],
    securityOpt: [...spec.securityOpt],
    privileged: false,
    runtime: spec.runtime,
    init: spec.init,
    healthcheck: spec.healthcheck,
    // No health check ever runs here: a running container's health is never more than "starting".
    health: spec.healthcheck && running ? "starting" : undefined,
    binds: [],
    mounts: [...(spec.mounts ?? [])],
    ports: {},
    addresses: {},
    pid: 0,
    execIds: [...c.execIds],
  };
}
