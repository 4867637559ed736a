import { randomHex } from "../../digest.ts";
import type { Engine, EngineCapabilities } from "../../engines/port.ts";
import type { ContainerInfo, ContainerSpec, ContainerStatus, ContainerSummary } from "../../engines/port.ts";
import { ConflictError, InvalidArgumentError, NotFoundError } from "../../errors.ts";
import { diskBound } from "./disk.ts";
import { SandboxProcess } from "../commands/process.ts";
import { liveTags } from "./tags.ts";
import {
  applyEgress,
  ensureEgressNetwork,
  forgetEgress,
  guardEgressNetworks,
  prepareEgressSeal,
} from "../networks/egress.ts";
import { egressAddressEntries, egressEntriesRefused, egressRefusedBy } from "../networks/egress-rules.ts";
import { requireNetworkGuard } from "../networks/network-guard.ts";
import { openAhead } from "../supervisor/connections.ts";
import { placeSupervisor, supervisedSpec } from "../supervisor/placement.ts";
import { LABEL, scopeLabels, tagsFromLabels } from "../engine-state/labels.ts";
import { containerEndReason, reportedExitCode } from "./lifetime.ts";
import type { EndedReason } from "../engine-state/event-kinds.ts";
import { appNetworkName } from "../engine-state/names.ts";
import { parseMember, type MemberState } from "../engine-state/pool-members.ts";
import type { Clock } from "../local/poll.ts";
import { probeFor, READINESS_DEFAULTS, waitForProbe, type ReadinessParams } from "../engine-state/readiness.ts";
import {
  normalizeSandboxParams,
  sandboxContainerSpec,
  sandboxParamsProblems,
  type SandboxParams,
  type SandboxVolumeMount,
} from "./sandbox-params.ts";

/** What the engine says about a sandbox right now. */
export interface SandboxState {
  id: string;
  app: string;
  name: string;
  containerName: string;
  status: ContainerStatus;
  running: boolean;
  exitCode: number;
  tags: Record<string, string>;
  /** Container port -> host port on 127.0.0.1. */
  ports: Record<number, number>;
  readiness: ReadinessParams | undefined;
  /** Whether the sandfleet supervisor runs in it (PID 1), taking its execs and file calls. */
  supervised: boolean;
  /** Why it ended, where its container tells: timeout, idle, node-lost, "evicted: disk" (see containerEndReason). */
  endReason?: EndedReason;
  /** What the engine said of an end it caused: the pod, its node and the cluster's words. */
  endDetail?: string;
  container: ContainerInfo;
}

export function generatedSandboxName(): string {
  return `sb-${randomHex(4)}`;
}

/**
 * Creates and starts a sandbox. Fails before touching the engine on bad
 * parameters or a missing image; if the container was made but cannot start,
 * it is removed again, so a failure leaves nothing behind.
 */
export async function createSandbox(
  docker: Engine,
  params: SandboxParams,
  options: {
    owner?: "pulumi" | "runtime";
    extraLabels?: Record<string, string>;
    /**
     * Who declared it (`project/stack/resource` for a Pulumi resource). A
     * container of that name left by an earlier create of the same
     * declaration, cut off before Pulumi recorded it, is replaced, not a conflict.
     */
    declaredBy?: string;
    /** The Docker name, when it is not a sandbox's own (a pool member's). */
    dockerName?: string;
    /** A warm pool member: its lifetime starts when it is claimed, not now. */
    warm?: boolean;
    /** Open the supervisor connection while the sandbox starts, for the caller's first command. */
    openAhead?: boolean;
  } = {},
): Promise<SandboxState> {
  const problems = sandboxParamsProblems({ ...params });
  if (problems.length > 0) {
    throw new InvalidArgumentError(`invalid sandbox: ${problems.map((p) => `${p.property} ${p.reason}`).join("; ")}`);
  }
  const normalized = normalizeSandboxParams(params);
  // What this engine cannot hold is refused before anything is made, in the engine's own words.
  const { capabilities } = await docker.info();
  const refused = engineRefusals(params, capabilities);
  if (refused.length > 0) throw new InvalidArgumentError(`invalid sandbox: ${refused.join("; ")}`);
  const image = await docker.images.inspect(normalized.image);
  if (!image) {
    throw new NotFoundError(
      `image "${normalized.image}" not found on the Docker engine at ${docker.host}; build or load it first (sandfleet never pulls from a registry)`,
    );
  }
  const appNetwork =
    normalized.network === "app" ? await docker.networks.inspect(appNetworkName(normalized.app)) : undefined;
  if (normalized.network === "app" && !appNetwork) {
    throw new NotFoundError(
      `app "${normalized.app}" has no network ${appNetworkName(normalized.app)}; create the App first`,
    );
  }
  // Docker would quietly create a missing named volume; a typo must fail instead.
  for (const mount of normalized.volumes) {
    if (!(await docker.volumes.inspect(mount.volume))) {
      throw new NotFoundError(
        `volume "${mount.volume}" (for ${mount.mountPath}) not found on ${docker.host}; create the Volume first`,
      );
    }
  }
  await requireSubPathSupport(docker, normalized.volumes);
  // An allowlist the engine keeps itself goes with the container (Kubernetes: a policy of its pod's own).
  // Otherwise: the app's egress network, its resolver as the only DNS, and the daemon that keeps
  // both, told of the network before anything starts on it.
  const keptByEngine = normalized.egress && docker.egress ? egressAddressEntries(normalized.egress.allow) : undefined;
  const egress = normalized.egress && !keptByEngine ? await ensureEgressNetwork(docker, normalized.app) : undefined;
  // Also drops the policies of addresses no running sandbox holds: whichever the new one gets is clean.
  if (egress) await guardEgressNetworks(docker);
  const disk = await diskBound(docker, normalized.diskMiB);
  if (disk.problem) throw new InvalidArgumentError(`invalid sandbox: diskMiB: ${disk.problem}`);
  const base = sandboxContainerSpec(
    { ...normalized, ...(disk.diskMiB !== undefined ? { diskMiB: disk.diskMiB } : {}) },
    generatedSandboxName(),
    options.owner,
  );
  const placement = normalized.supervisor ? await placeSupervisor(docker) : undefined;
  const labelled: ContainerSpec = {
    ...base,
    ...(egress ? { dns: [egress.gateway], macAddress: sandboxMacAddress() } : {}),
    // On no network of sandfleet's: its list is all it reaches.
    ...(keptByEngine ? { networkMode: "none", egressAllow: keptByEngine } : {}),
    ...(options.dockerName ? { name: options.dockerName } : {}),
    labels: {
      ...base.labels,
      ...options.extraLabels,
      ...(options.declaredBy ? { [LABEL.resource]: options.declaredBy } : {}),
    },
  };
  const spec = placement
    ? supervisedSpec(
        labelled,
        image,
        placement,
        {
          ...(normalized.timeoutMs !== undefined ? { timeoutMs: normalized.timeoutMs } : {}),
          ...(normalized.idleTimeoutMs !== undefined ? { idleTimeoutMs: normalized.idleTimeoutMs } : {}),
          ...(normalized.idleAction === "pause" ? { idleAction: "pause" as const } : {}),
          ...(options.warm ? { warm: true } : {}),
          ...(normalized.ports.length > 0 ? { ports: normalized.ports } : {}),
        },
        capabilities.execUser.supported,
      )
    : labelled;
  // The host's guard holds before the sandbox's first packet.
  if (appNetwork) await requireNetworkGuard(docker, appNetwork);
  let id: string;
  try {
    id = await docker.containers.create(spec);
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    const holder = spec.name ? await docker.containers.inspect(spec.name) : undefined;
    if (!options.declaredBy || holder?.labels[LABEL.resource] !== options.declaredBy) {
      throw new ConflictError(
        `sandbox name "${spec.labels[LABEL.name]}" is already taken in app "${normalized.app}" (container ${spec.name})`,
      );
    }
    // Our own leftover from a create that was cut off: Pulumi never learned its id.
    await docker.containers.remove(holder.id);
    id = await docker.containers.create(spec);
  }
  // Its only resolver is sandfleet's: the engine's own DNS server would answer the app's other
  // sandboxes' names. The helper that closes it is ready before the sandbox starts.
  let seal: Awaited<ReturnType<typeof prepareEgressSeal>> | undefined;
  try {
    seal = egress ? await prepareEgressSeal(docker, { id, app: normalized.app }, egress.gateway) : undefined;
    await docker.containers.start(id);
    await seal?.seal();
    // Until its policy arrives the network lets it reach nothing; then its list applies.
    if (egress) await applyEgress(docker, id);
  } catch (error) {
    await seal?.discard();
    if (egress) await forgetEgress(docker, id);
    await docker.containers.remove(id);
    throw error;
  }
  if (placement && options.openAhead) openAhead(docker, id);
  const state = await inspectSandbox(docker, id);
  if (!state) throw new NotFoundError(`sandbox ${spec.name} disappeared right after it started`);
  return state;
}

/**
 * What a sandbox asks of the engine that its capabilities refuse, each as
 * `property: why`: a pids bound of its own, and allowlist entries of a kind
 * the engine cannot hold. The spec refuses the same with the same words.
 */
function engineRefusals(params: SandboxParams, capabilities: EngineCapabilities): string[] {
  const { pidsBound: pids, egressAddresses: lists } = capabilities;
  const egress = !params.egress
    ? []
    : !lists.supported
      ? [`egress: ${lists.why}`] // no allowlist of any kind, an empty one included
      : egressEntriesRefused(params.egress.allow, egressRefusedBy(capabilities)).map(
          ({ index, reason }) => `egress.allow[${String(index)}]: ${reason}`,
        );
  return [...(params.pidsLimit !== undefined && !pids.supported ? [`pidsLimit: ${pids.why}`] : []), ...egress];
}

/**
 * A MAC address of the sandbox's own: locally administered, unicast, and
 * random, unlike the engine's (derived from the IP address, so the same for
 * whoever gets that address next). The egress daemon's rules match it with
 * the address, so a policy left for an address never applies to the next
 * sandbox given it.
 */
function sandboxMacAddress(): string {
  // 0a: locally administered (bit 1), unicast (bit 0 clear), apart from the engine's 02:42.
  return ["0a", ...(randomHex(5).match(/../g) ?? [])].join(":");
}

export async function inspectSandbox(docker: Engine, id: string): Promise<SandboxState | undefined> {
  const container = await docker.containers.inspect(id);
  if (!container || container.labels[LABEL.kind] !== "sandbox") return undefined;
  return {
    id: container.id,
    app: container.labels[LABEL.app] ?? "",
    name: container.labels[LABEL.name] ?? "",
    containerName: container.name,
    status: container.status,
    running: container.running,
    exitCode: container.exitCode,
    tags: tagsFromLabels(container.labels),
    ports: { ...container.ports },
    readiness: parseReadiness(container.labels[LABEL.readiness]),
    supervised: container.labels[LABEL.supervisor] !== undefined,
    ...endOf(container),
    container,
  };
}

function endOf(container: ContainerInfo): { endReason?: EndedReason; endDetail?: string } {
  const reason = containerEndReason(container);
  if (!reason) return {};
  const byEngine = container.trouble?.ended === true && container.trouble.reason === reason;
  return { endReason: reason, ...(byEngine ? { endDetail: container.trouble?.detail } : {}) };
}

function parseReadiness(label: string | undefined): ReadinessParams | undefined {
  if (!label) return undefined;
  try {
    return JSON.parse(label) as ReadinessParams;
  } catch {
    return undefined;
  }
}

/** A sandbox as a listing shows it. */
export interface SandboxSummary {
  id: string;
  app: string;
  name: string;
  status: ContainerStatus;
  /** Undefined while it runs; 124 when ended by its timeout or idle timeout; 137 when terminated. */
  exitCode: number | undefined;
  /** Why it ended, where its container tells (see SandboxState.endReason). */
  endReason?: EndedReason;
  /** When it was made (ISO 8601). */
  createdAt: string;
  tags: Record<string, string>;
  /** Container port -> host port on 127.0.0.1. */
  ports: Record<number, number>;
  /** For a pool's member: its pool, and whether it is still warm in the pool or claimed from it. */
  pool?: { name: string; state: MemberState };
}

/**
 * Each sandbox of an app with at least the given tags, oldest first: one
 * listing of the engine, and one inspect per ended sandbox for its exit code.
 */
export async function summarizeSandboxes(
  docker: Engine,
  params: { app?: string; tags?: Record<string, string>; includeEnded?: boolean },
): Promise<SandboxSummary[]> {
  // Tags set on a live sandbox are in tag records, so the tags are matched here, not by the engine.
  const [found, setLater] = await Promise.all([
    docker.containers.list(scopeLabels("sandbox", params.app)),
    liveTags(docker, params.app),
  ]);
  const tagsOf = (c: { id: string; labels: Record<string, string> }) => setLater.get(c.id) ?? tagsFromLabels(c.labels);
  const wanted = Object.entries(params.tags ?? {});
  const live = (status: ContainerStatus) => status === "running" || status === "paused";
  const shown = found.filter(
    (c) => (params.includeEnded === true || live(c.status)) && wanted.every(([key, value]) => tagsOf(c)[key] === value),
  );
  const summaries = await Promise.all(
    shown.map(async (c): Promise<SandboxSummary | undefined> => {
      const ended = live(c.status) ? undefined : await docker.containers.inspect(c.id);
      if (!live(c.status) && !ended) return undefined; // removed meanwhile
      return {
        id: c.id,
        app: c.labels[LABEL.app] ?? "",
        name: c.labels[LABEL.name] ?? "",
        status: c.status,
        exitCode: ended ? reportedExitCode(ended) : undefined,
        ...(ended && containerEndReason(ended) ? { endReason: containerEndReason(ended) } : {}),
        createdAt: new Date(c.createdMs).toISOString(),
        tags: tagsOf(c),
        ports: c.ports,
        ...poolOf(c),
      };
    }),
  );
  return summaries
    .filter((s): s is SandboxSummary => s !== undefined)
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
}

function poolOf(c: ContainerSummary): Pick<SandboxSummary, "pool"> {
  const pool = c.labels[LABEL.pool];
  const member = pool === undefined ? undefined : parseMember(c.labels[LABEL.app] ?? "", pool, c);
  return member && pool !== undefined ? { pool: { name: pool, state: member.state } } : {};
}

/**
 * Waits until the sandbox's readiness probe passes. Fails with a TimeoutError
 * naming the probe and its last failure, or at once when the sandbox has ended.
 */
export async function waitUntilReady(
  docker: Engine,
  state: SandboxState,
  overrides: { timeoutMs?: number; clock?: Clock } = {},
): Promise<void> {
  const readiness = state.readiness;
  const probe = readiness && probeFor(readiness);
  if (!readiness || !probe) throw new InvalidArgumentError(`sandbox ${state.name} has no readiness probe`);
  // Through the supervisor where there is one: a probe every few ms costs the sandbox next to nothing.
  const run = async (argv: readonly string[]) =>
    (await SandboxProcess.start(docker, state, argv, { stdin: false })).output();
  await waitForProbe(docker, state.id, `sandbox ${state.name}`, probe, run, {
    intervalMs: readiness.intervalMs ?? READINESS_DEFAULTS.intervalMs,
    timeoutMs: overrides.timeoutMs ?? readiness.timeoutMs ?? READINESS_DEFAULTS.timeoutMs,
    ...(overrides.clock ? { clock: overrides.clock } : {}),
  });
}

/**
 * Removes the sandbox's container; one that is already gone is fine. Its
 * egress policy goes first, so its address is never free with its list.
 */
export async function removeSandbox(docker: Engine, id: string): Promise<void> {
  await forgetEgress(docker, id);
  await docker.containers.remove(id);
}

/**
 * An engine that cannot mount part of a volume would mount all of it, which
 * would give a sandbox more than it was meant to see: refused before anything is made.
 */
async function requireSubPathSupport(docker: Engine, mounts: readonly SandboxVolumeMount[]): Promise<void> {
  const first = mounts.find((m) => m.subPath !== undefined);
  if (!first) return;
  const { subPathMounts } = (await docker.info()).capabilities;
  if (subPathMounts.supported) return;
  throw new InvalidArgumentError(`invalid sandbox: volumes: subPath "${String(first.subPath)}" ${subPathMounts.why}`);
}
