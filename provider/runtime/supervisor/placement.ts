import { accessSync, constants, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { sha256 } from "../../digest.ts";
import type { Engine } from "../../engines/port.ts";
import type { ContainerSpec, ImageInfo } from "../../engines/port.ts";
import { SandfleetError } from "../../errors.ts";
import { randomHex } from "../../digest.ts";
import { SUPERVISOR_CONTROL_UID } from "../../rules.ts";
import { binaryArchive, SUPERVISOR_FILES, supervisorFile } from "../../engines/binary-archive.ts";
import { LABEL } from "../engine-state/labels.ts";
import { INIT_CHECK_ARGV } from "../engine-state/readiness.ts";

/** Where the supervisor is mounted in every sandbox, read-only. */
export const SUPERVISOR_DIR = "/.sandfleet";
/** Where the copy of the supervisor a sandbox of this runtime runs is (SUPERVISOR_FILES). */
export function supervisorBin(runtime: string | undefined): string {
  return `${SUPERVISOR_DIR}/${supervisorFile(runtime)}`;
}

/** The flag of `sandfleet-supervisor init` that gives PID 1 its sandbox's secret. */
export const SECRET_FLAG = "--secret";

/** The CPUs the package carries a supervisor for, by the names engines give them. */
const ARCHES: Record<string, string> = { x86_64: "amd64", amd64: "amd64", aarch64: "arm64", arm64: "arm64" };

/** A supervisor placed on one engine: its version is the start of the binary's hash. */
export interface SupervisorPlacement {
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
  /** The only uid a connection may come from: the host's `connect` exec runs as it (Docker only). */
  controlUid?: number;
  /** "runsc": gVisor, whose kernel does not spare PID 1 the signals left at their default. */
  runtime?: "runsc";
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
export function placeSupervisor(docker: Engine): Promise<SupervisorPlacement | undefined> {
  let placed = placements.get(docker.host);
  if (!placed) {
    placed = place(docker);
    placements.set(docker.host, placed);
    placed.catch(() => placements.delete(docker.host)); // asked again next time
  }
  return placed;
}

/**
 * Makes the next placement on this engine check the placed binary again
 * (and write it again when damaged): called when a sandbox's supervisor
 * could not be started from it.
 */
export function forgetPlacement(docker: Engine): void {
  placements.delete(docker.host);
}

async function place(docker: Engine): Promise<SupervisorPlacement | undefined> {
  const info = await docker.info();
  const arch = ARCHES[info.architecture];
  if (info.os !== "linux" || !arch) return undefined;
  const { binary } = packagedBinary(`sandfleet-supervisor-linux-${arch}`);
  // The version names the files as sandboxes get them, not only the binary: a new layout is a new volume.
  const version = sha256().update(binary).update(JSON.stringify(SUPERVISOR_FILES)).digest("hex").slice(0, 16);
  await docker.supervisors.place({
    version,
    labels: { [LABEL.supervisor]: version },
    binary,
    archive: () => binaryArchive("supervisor", binary, SUPERVISOR_FILES),
    binaryPath: "/supervisor/sandfleet-supervisor",
  });
  return { version };
}

/**
 * The package's supervisor for this host's own architecture, which runs
 * `connect` beside a sandbox on the engine's host; undefined when the
 * package has none for it, or its file cannot be run (the caller then
 * connects through an engine exec).
 */
export function hostRelay(): string | undefined {
  if (process.platform !== "linux") return undefined;
  const arch = ARCHES[process.arch === "x64" ? "amd64" : process.arch];
  if (!arch) return undefined;
  try {
    const path = fileURLToPath(import.meta.resolve(`sandfleet/supervisor/sandfleet-supervisor-linux-${arch}`));
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    return undefined;
  }
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

export { binaryArchive } from "../../engines/binary-archive.ts";

/**
 * The container spec of a sandbox with the supervisor as its PID 1: it
 * starts what the sandbox would have started (the image's entrypoint or the
 * sandbox's, then its command), as the sandbox's user, from a read-only mount.
 * It gets a secret of its own, made here, that every connection must present
 * (on Docker, connections must also come from the host's uid). The secret is
 * on PID 1's command line, which the supervisor wipes as it starts, and not in
 * the container's environment, which every engine exec (a health check, a
 * `kubectl exec`) would inherit.
 */
export function supervisedSpec(
  spec: ContainerSpec,
  image: Pick<ImageInfo, "entrypoint">,
  placement: SupervisorPlacement,
  config: Omit<SupervisorConfig, "probe" | "controlUid" | "runtime">,
  /** Whether the engine can choose an exec's user (EngineCapabilities.execUser): then connections must come from the host's uid. */
  execUser: boolean,
): ContainerSpec {
  const entrypoint = spec.entrypoint ?? image.entrypoint ?? [];
  const bin = supervisorBin(spec.runtime);
  const healthcheck = spec.healthcheck && {
    ...spec.healthcheck,
    // Without the engine's init, the supervisor is what answers for a sandbox without a probe.
    argv: spec.healthcheck.argv.join("\0") === INIT_CHECK_ARGV.join("\0") ? [bin, "version"] : spec.healthcheck.argv,
  };
  const full: SupervisorConfig = {
    ...config,
    ...(healthcheck ? { probe: healthcheck.argv } : {}),
    // The secret alone admits where the peer's uid says nothing: Kubernetes cannot choose an
    // exec's user, and gVisor reports the listener's own credentials for every peer.
    ...(execUser && spec.runtime !== "runsc" ? { controlUid: SUPERVISOR_CONTROL_UID } : {}),
    ...(spec.runtime === "runsc" ? { runtime: "runsc" as const } : {}),
  };
  return {
    ...spec,
    ...(healthcheck ? { healthcheck } : {}),
    entrypoint: [bin, "init", "--config", JSON.stringify(full), SECRET_FLAG, randomHex(32), "--"],
    cmd: [...entrypoint, ...(spec.cmd ?? [])],
    init: false,
    labels: { ...spec.labels, [LABEL.supervisor]: placement.version },
    supervisor: { version: placement.version, dir: SUPERVISOR_DIR },
  };
}

/**
 * Removes the supervisor versions other than this package's that no
 * container uses any more: each one's filler container, volume and image.
 * Returns the versions removed (with dryRun: those that would be).
 */
export async function collectSupervisors(docker: Engine, dryRun: boolean): Promise<string[]> {
  const current = (await placeSupervisor(docker).catch(() => undefined))?.version;
  const versions = await docker.supervisors.list({ [LABEL.supervisor]: "" });
  const sandboxes = await docker.containers.list({ [LABEL.managed]: "true", [LABEL.kind]: "sandbox" });
  const inUse = new Set(sandboxes.map((c) => c.labels[LABEL.supervisor]));
  const removed: string[] = [];
  for (const version of versions) {
    if (version === current || inUse.has(version)) continue;
    if (dryRun || (await docker.supervisors.remove(version))) removed.push(version);
  }
  return removed;
}
