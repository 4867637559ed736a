import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { sha256 } from "../../digest.ts";
import type { DockerClient } from "../../docker/client.ts";
import type { ContainerSpec, ImageInfo } from "../../docker/types.ts";
import { ConflictError, SandfleetError } from "../../errors.ts";
import { LABEL } from "../labels.ts";
import { INIT_CHECK_ARGV } from "../readiness.ts";

/** Where the supervisor is mounted in every sandbox, read-only. */
export const SUPERVISOR_DIR = "/.sandfleet";
export const SUPERVISOR_BIN = `${SUPERVISOR_DIR}/sandfleet-supervisor`;

/** The CPUs the package carries a supervisor for, by the names engines give them. */
const ARCHES: Record<string, string> = { x86_64: "amd64", amd64: "amd64", aarch64: "arm64", arm64: "arm64" };

/**
 * A supervisor on one engine: a volume holding its binary, named by the
 * binary's hash, so that a new version never changes the volume that
 * running sandboxes have mounted.
 */
export interface SupervisorPlacement {
  volume: string;
  version: string;
}

/** What the supervisor is told when a sandbox is made (supervisor/init.go's Config). */
export interface SupervisorConfig {
  timeoutMs?: number;
  idleTimeoutMs?: number;
  /** "pause": idleness is reported to `sandfleet agent`, which pauses the sandbox; never an end. */
  idleAction?: "pause";
  /** A pool member: its lifetime starts at its claim. */
  warm?: boolean;
  ports?: readonly number[];
  probe?: readonly string[];
}

// By engine address: every client of one engine shares the placement, and
// the binary is read and hashed once per process.
const placements = new Map<string, Promise<SupervisorPlacement | undefined>>();
const binaries = new Map<string, { binary: Buffer; version: string }>();

/**
 * Puts the supervisor on the engine once, and says where it is. Undefined on
 * an engine whose CPU the package carries no supervisor for: sandboxes there
 * run without one, and execs go through the engine.
 */
export function placeSupervisor(docker: DockerClient): Promise<SupervisorPlacement | undefined> {
  let placed = placements.get(docker.host);
  if (!placed) {
    placed = place(docker);
    placements.set(docker.host, placed);
    placed.catch(() => placements.delete(docker.host)); // asked again next time
  }
  return placed;
}

async function place(docker: DockerClient): Promise<SupervisorPlacement | undefined> {
  const info = await docker.info();
  const arch = ARCHES[info.architecture];
  if (info.os !== "linux" || !arch) return undefined;
  const { binary, version } = packagedBinary(`sandfleet-supervisor-linux-${arch}`);
  const volume = `sandfleet-supervisor-${version}`;
  // The filler container exists once the volume is full: the engine copies
  // the image's files into an empty volume while it creates the container.
  if (await docker.containers.inspect(volume)) return { volume, version };
  const labels = { [LABEL.supervisor]: version };
  const image = `sandfleet-supervisor:${version}`;
  if (!(await docker.images.inspect(image))) {
    await docker.images.importArchive(await binaryArchive("supervisor", "sandfleet-supervisor", binary), {
      repo: "sandfleet-supervisor",
      tag: version,
      labels,
      env: [],
      cmd: [`/supervisor/sandfleet-supervisor`, "version"],
      entrypoint: undefined,
      user: "",
      workdir: "",
    });
  }
  await docker.volumes.create({ name: volume, labels });
  try {
    await docker.containers.create({
      name: volume,
      image,
      env: {},
      labels,
      nanoCpus: 0,
      memoryBytes: 0,
      pidsLimit: 1,
      readOnlyRootfs: true,
      networkMode: "none",
      capDrop: ["ALL"],
      securityOpt: ["no-new-privileges"],
      runtime: "runc",
      init: false,
      mounts: [{ volume, target: "/supervisor", readOnly: false }],
    });
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    // Another process is placing the same version; its create finishes the copy.
    for (let waited = 0; !(await docker.containers.inspect(volume)); waited += 50) {
      if (waited > 30_000) throw new SandfleetError(`the supervisor's volume ${volume} was never filled`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return { volume, version };
}

/** A binary the package ships in supervisor/bin (the supervisor, the egress daemon), and its version: the start of its hash. */
export function packagedBinary(file: string): { binary: Buffer; version: string } {
  const known = binaries.get(file);
  if (known) return known;
  const url = import.meta.resolve(`sandfleet/supervisor/${file}`);
  let binary: Buffer;
  try {
    binary = readFileSync(fileURLToPath(url));
  } catch {
    throw new SandfleetError(
      `${file} is missing from the package (${fileURLToPath(url)}); in a checkout, run npm run bootstrap`,
    );
  }
  const read = { binary, version: sha256().update(binary).digest("hex").slice(0, 16) };
  binaries.set(file, read);
  return read;
}

/** A root filesystem with one file, /<dir>/<file>, owned by root and not writable. */
export async function binaryArchive(dir: string, file: string, binary: Buffer): Promise<Readable> {
  const { pack } = await import("tar-stream");
  const archive = pack();
  archive.entry({ name: `${dir}/`, type: "directory", mode: 0o755, uid: 0, gid: 0 });
  archive.entry({ name: `${dir}/${file}`, mode: 0o555, uid: 0, gid: 0 }, binary);
  archive.finalize();
  return Readable.from(archive);
}

/**
 * The container spec of a sandbox with the supervisor as its PID 1: it
 * starts what the sandbox would have started (the image's entrypoint or the
 * sandbox's, then its command), as the sandbox's user, from a read-only mount.
 */
export function supervisedSpec(
  spec: ContainerSpec,
  image: Pick<ImageInfo, "entrypoint">,
  placement: SupervisorPlacement,
  config: Omit<SupervisorConfig, "probe">,
): ContainerSpec {
  const entrypoint = spec.entrypoint ?? image.entrypoint ?? [];
  const healthcheck = spec.healthcheck && {
    ...spec.healthcheck,
    // Without the engine's init, the supervisor is what answers for a sandbox without a probe.
    argv:
      spec.healthcheck.argv.join("\0") === INIT_CHECK_ARGV.join("\0")
        ? [SUPERVISOR_BIN, "version"]
        : spec.healthcheck.argv,
  };
  return {
    ...spec,
    ...(healthcheck ? { healthcheck } : {}),
    entrypoint: [SUPERVISOR_BIN, "init", "--config", JSON.stringify({ ...config, probe: healthcheck?.argv }), "--"],
    cmd: [...entrypoint, ...(spec.cmd ?? [])],
    init: false,
    labels: { ...spec.labels, [LABEL.supervisor]: placement.version },
    mounts: [...(spec.mounts ?? []), { volume: placement.volume, target: SUPERVISOR_DIR, readOnly: true }],
  };
}

/**
 * Removes the supervisor versions other than this package's that no
 * container uses any more: each one's filler container, volume and image.
 * Returns the versions removed (with dryRun: those that would be).
 */
export async function collectSupervisors(docker: DockerClient, dryRun: boolean): Promise<string[]> {
  const current = (await placeSupervisor(docker).catch(() => undefined))?.version;
  const volumes = await docker.volumes.list({ [LABEL.supervisor]: "" });
  const sandboxes = await docker.containers.list({ [LABEL.managed]: "true", [LABEL.kind]: "sandbox" });
  const inUse = new Set(sandboxes.map((c) => c.labels[LABEL.supervisor]));
  const removed: string[] = [];
  for (const volume of volumes) {
    const version = volume.labels[LABEL.supervisor] ?? "";
    if (version === current || inUse.has(version)) continue;
    if (dryRun) {
      removed.push(version);
      continue;
    }
    await docker.containers.remove(volume.name);
    try {
      await docker.volumes.remove(volume.name);
    } catch (error) {
      if (error instanceof ConflictError) continue; // a container of another kind still has it mounted
      throw error;
    }
    await docker.images.remove(`sandfleet-supervisor:${version}`);
    removed.push(version);
  }
  return removed;
}
