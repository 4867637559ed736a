import { PassThrough } from "node:stream";
import type { V1ContainerStateWaiting, V1ContainerStatus, V1Pod } from "@kubernetes/client-node";
import { randomHex } from "../../digest.ts";
import { ConflictError, EngineError, InvalidArgumentError, NotFoundError, SandboxLostError } from "../../errors.ts";
import type {
  ContainerClient,
  ContainerInfo,
  ContainerSpec,
  ContainerStatus,
  ContainerSummary,
  ContainerTrouble,
  ExecResult,
} from "../port.ts";
import type { KubeApis } from "./api.ts";
import type { ImageLayer } from "./images.ts";
import type { KubeCall, KubeLookup } from "./errors.ts";
import {
  kubeMetadata,
  labelsOf,
  OWNED_LABEL,
  NAME_ANNOTATION,
  NAME_HASH_LABEL,
  nameHash,
  selectorFor,
} from "./labels.ts";
import { EGRESS_LABEL } from "./egress-policy.ts";
import { KUBERNETES_LIMITS } from "./limits.ts";
import { podPoller } from "./pod-poll.ts";
import { parseQuantity, podFor, SANDBOX_CONTAINER, specNote, type ImageNote } from "./pod-spec.ts";
import { podSecurityRefusal } from "./pod-security.ts";
import { LOST_EXIT_CODE, podTrouble } from "./pod-trouble.ts";
import { podStats } from "./stats.ts";
import { openPortForward } from "./port-forward.ts";
import { requireServedPort } from "../served-port.ts";

/** What the pod client needs besides the API: images the cluster can pull, and a way to end a sandbox. */
export interface PodDeps {
  apis: () => Promise<KubeApis>;
  call: KubeCall;
  lookup: KubeLookup;
  /** The reference the cluster pulls a local image by (with a layer on top, when asked), pushed there first. */
  publish(image: string, layer: ImageLayer): Promise<string>;
  /** Ends a supervised sandbox as a kill does (exit 137), through its supervisor in `dir`. */
  terminate(id: string, dir: string): Promise<void>;
  /** An image's own user (its USER), as the local engine that built it says. */
  imageConfig(image: string): Promise<ImageNote | undefined>;
  /** Runs `sandfleet-supervisor stats` in a supervised pod: its usage, as JSON. */
  readUsage(id: string, dir: string): Promise<ExecResult>;
  /** Kills every process of a pod but its PID 1. */
  killAll(id: string): Promise<void>;
  /** Execs this process started in a pod, for ContainerInfo.execIds. */
  execIdsOf(id: string): string[];
  /** After a pod is made: its default-deny policy is there (an app's end may have removed it meanwhile). */
  confirmGuarded(): Promise<void>;
  /** Makes a pod's egress allowlist policy, owned by the pod. */
  allowEgress(podId: string, uid: string, allow: readonly string[]): Promise<void>;
  /** Removes a pod's egress allowlist policy; absent is fine. */
  forgetEgress(podId: string): Promise<void>;
}

/** Pod ids are made here: short, valid names, never reused. */
const POD_ID = /^sf-[0-9a-f]{12}$/;
const envSecretName = (id: string) => `${id}-env`;

/** The TCP ports a pod's sandbox container declares: the only ones a forward may reach. */
function servedPortsOf(pod: V1Pod): number[] {
  const container = pod.spec?.containers.find((c) => c.name === SANDBOX_CONTAINER);
  return (container?.ports ?? []).filter((p) => (p.protocol ?? "TCP") === "TCP").map((p) => p.containerPort);
}

function sandboxStatus(pod: V1Pod): V1ContainerStatus | undefined {
  return pod.status?.containerStatuses?.find((c) => c.name === SANDBOX_CONTAINER);
}

/**
 * A pod's state in Docker's words: a pod is never restarted, so it goes
 * created → running → exited. One the cluster has ended (its node lost, an
 * eviction) is exited, even while the API still holds it as running or
 * terminating: its kubelet may never say so.
 */
export function podStatus(pod: V1Pod): ContainerStatus {
  if (podTrouble(pod)?.ended) return "exited";
  if (pod.metadata?.deletionTimestamp) return "removing";
  const state = sandboxStatus(pod)?.state;
  if (state?.terminated || pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed") return "exited";
  if (state?.running) return "running";
  return "created";
}

function timeOf(value: Date | string | number | undefined): string {
  if (value === undefined || value === "") return "0001-01-01T00:00:00Z";
  if (typeof value === "number") return new Date(value).toISOString();
  return value instanceof Date ? value.toISOString() : value;
}

/** The exit code of an ended pod: its container's, else (ended by the cluster, unheard from) a kill's. */
function podExitCode(pod: V1Pod): number {
  const terminated = sandboxStatus(pod)?.state?.terminated;
  if (terminated) return terminated.exitCode;
  return podTrouble(pod)?.ended ? LOST_EXIT_CODE : 0;
}

export function podInfo(pod: V1Pod, env: Readonly<Record<string, string>>, execIds: string[]): ContainerInfo {
  const note = specNote(pod);
  const container = pod.spec?.containers.find((c) => c.name === SANDBOX_CONTAINER);
  const status = sandboxStatus(pod);
  const terminated = status?.state?.terminated;
  const limits = container?.resources?.limits ?? {};
  const ready = pod.status?.conditions?.find((c) => c.type === "Ready")?.status === "True";
  const id = pod.metadata?.name ?? "";
  const state = podStatus(pod);
  const trouble = podTrouble(pod);
  return {
    id,
    name: pod.metadata?.annotations?.[NAME_ANNOTATION] ?? id,
    image: note.image ?? container?.image ?? "",
    imageId: status?.imageID ?? "",
    labels: labelsOf(pod.metadata),
    status: state,
    running: state === "running",
    exitCode: podExitCode(pod),
    oomKilled: terminated?.reason === "OOMKilled",
    createdAt: timeOf(pod.metadata?.creationTimestamp),
    startedAt: timeOf(status?.state?.running?.startedAt ?? terminated?.startedAt),
    finishedAt: timeOf(terminated?.finishedAt ?? (trouble?.ended ? trouble.sinceMs : undefined)),
    user: note.user ?? "",
    workdir: container?.workingDir ?? "",
    env,
    cmd: [...(container?.command ?? []), ...(container?.args ?? [])],
    entrypoint: container?.command ?? [],
    nanoCpus: Math.round(parseQuantity(limits.cpu) * 1e9),
    memoryBytes: parseQuantity(limits.memory),
    pidsLimit: note.pidsLimit ?? 0,
    diskBytes: limits["ephemeral-storage"] ? parseQuantity(limits["ephemeral-storage"]) : undefined,
    readOnlyRootfs: container?.securityContext?.readOnlyRootFilesystem === true,
    networkMode: note.networkMode ?? "none",
    capDrop: container?.securityContext?.capabilities?.drop ?? [],
    capAdd: container?.securityContext?.capabilities?.add ?? [],
    securityOpt: container?.securityContext?.allowPrivilegeEscalation === false ? ["no-new-privileges"] : [],
    privileged: container?.securityContext?.privileged === true,
    runtime: note.runtime ?? "runc",
    init: note.init ?? false,
    healthcheck: note.healthcheck,
    health: note.healthcheck ? (ready ? "healthy" : "starting") : undefined,
    binds: [],
    mounts: note.mounts ?? [],
    // The cluster publishes nothing on this host: a tunnel is this process's own listener.
    ports: {},
    servedPorts: servedPortsOf(pod),
    addresses: pod.status?.podIP ? { [note.networkMode ?? "pod"]: pod.status.podIP } : {},
    pid: 0,
    execIds,
    ...(trouble ? { trouble } : {}),
  };
}

function troubleOf(pod: V1Pod): { trouble?: ContainerTrouble } {
  const trouble = podTrouble(pod);
  return trouble ? { trouble } : {};
}

/** Waiting reasons that never resolve by themselves: a start fails with them at once. */
const FATAL_WAITING = new Set([
  "ErrImagePull",
  "ImagePullBackOff",
  "InvalidImageName",
  "CreateContainerConfigError",
  "CreateContainerError",
  "RunContainerError",
  "ErrImageNeverPull",
]);

/**
 * The first of a pod's containers that waits for a reason that never resolves by itself, if any.
 * A kubelet too busy to read the pod's Secret in time says CreateContainerConfigError with "failed
 * to sync secret cache" (or configmap): that one it retries by itself within seconds, so the start
 * waits on instead of failing a pod that would have run.
 */
export function fatalWaiting(pod: V1Pod): V1ContainerStateWaiting | undefined {
  return [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]
    .map((c) => c.state?.waiting)
    .find(
      (w) =>
        w?.reason !== undefined &&
        FATAL_WAITING.has(w.reason) &&
        !(
          w.reason === "CreateContainerConfigError" && /failed to sync (secret|configmap) cache/i.test(w.message ?? "")
        ),
    );
}

export function podClient(deps: PodDeps): ContainerClient {
  const { apis, call, lookup } = deps;
  const poller = podPoller(apis, call);
  // A pod's environment Secret never changes after it is made: read once.
  const envs = new Map<string, Promise<Record<string, string>>>();

  // The pod a conditioned rename just wrote, as the API server answered it: the reads that follow a
  // claim (its inspect, the supervisor channel's) take it from here instead of asking again. Only
  // for a moment, and never after this client changed the pod otherwise (a kill, an update).
  const written = new Map<string, { pod: V1Pod; atMs: number }>();
  const justWritten = (id: string): V1Pod | undefined => {
    const entry = written.get(id);
    if (entry && Date.now() - entry.atMs <= WRITTEN_FRESH_MS) return entry.pod;
    written.delete(id);
    return undefined;
  };
  const forgetWritten = (idOrName: string) => {
    if (POD_ID.test(idOrName)) written.delete(idOrName);
    // By a sandfleet name: whichever pod that is now.
    else
      for (const [id, entry] of written)
        if (entry.pod.metadata?.annotations?.[NAME_ANNOTATION] === idOrName) written.delete(id);
  };
  const rememberWritten = (pod: V1Pod) => {
    const now = Date.now();
    for (const [id, entry] of written) if (now - entry.atMs > WRITTEN_FRESH_MS) written.delete(id);
    if (pod.metadata?.name) written.set(pod.metadata.name, { pod, atMs: now });
  };

  const read = async (idOrName: string): Promise<V1Pod | undefined> => {
    const { core, namespace } = await apis();
    if (POD_ID.test(idOrName)) {
      const fresh = justWritten(idOrName);
      if (fresh) return fresh;
      const pod = await lookup(`read pod ${idOrName}`, () => core.readNamespacedPod({ name: idOrName, namespace }));
      if (pod) return pod;
    }
    const found = await call(`find pod named ${idOrName}`, () =>
      core.listNamespacedPod({ namespace, labelSelector: `${NAME_HASH_LABEL}=${nameHash(idOrName)}` }),
    );
    return found.items.find((p) => p.metadata?.annotations?.[NAME_ANNOTATION] === idOrName);
  };
  const require = async (id: string): Promise<V1Pod> => {
    const pod = await read(id);
    if (!pod) throw new NotFoundError(`no such sandbox pod: ${id}`);
    return pod;
  };
  const envOf = (pod: V1Pod): Promise<Record<string, string>> => {
    const id = pod.metadata?.name ?? "";
    const secret = pod.spec?.containers[0]?.envFrom?.[0]?.secretRef?.name;
    if (!secret) return Promise.resolve({});
    let env = envs.get(id);
    if (!env) {
      env = (async () => {
        const { core, namespace } = await apis();
        const found = await lookup(`read the environment of pod ${id}`, () =>
          core.readNamespacedSecret({ name: secret, namespace }),
        );
        return Object.fromEntries(
          Object.entries(found?.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]),
        );
      })();
      envs.set(id, env);
      env.catch(() => envs.delete(id));
    }
    return env;
  };
  const nameTaken = async (name: string): Promise<boolean> => (await read(name)) !== undefined;

  return {
    async create(spec: ContainerSpec) {
      const { core, namespace } = await apis();
      if (spec.name !== undefined && (await nameTaken(spec.name))) {
        throw new ConflictError(`the name "${spec.name}" is already in use by another sandbox pod in ${namespace}`);
      }
      const id = `sf-${randomHex(6)}`;
      const image = await deps.publish(spec.image, {
        supervisor: spec.supervisor,
        userName: spec.user && !/^\d+(:\d+)?$/.test(spec.user) ? spec.user : undefined,
        app: spec.labels["sandfleet.app"],
      });
      // Without a user in the spec, the image's decides whether the pod can promise it is not root.
      const imageConfig = await deps.imageConfig(spec.image);
      const imageUser = spec.user === undefined ? imageConfig?.user : undefined;
      // The environment (with secrets' values) lives in a Secret the pod reads, never in its spec.
      const hasEnv = Object.keys(spec.env).length > 0;
      if (hasEnv) {
        await call(`create the environment of pod ${id}`, () =>
          core.createNamespacedSecret({
            namespace,
            body: {
              metadata: { name: envSecretName(id), ...kubeMetadata({}) },
              type: "Opaque",
              stringData: { ...spec.env },
            },
          }),
        );
      }
      const pool = spec.labels["sandfleet.pool"];
      const pod = podFor(spec, {
        id,
        namespace,
        image,
        imageUser,
        imageConfig,
        envSecret: hasEnv ? envSecretName(id) : undefined,
        spreadKey: pool ? nameHash(`${spec.labels["sandfleet.app"] ?? ""}/${pool}`).slice(0, 32) : undefined,
      });
      let created: V1Pod;
      try {
        created = await call(`create pod for ${spec.name ?? id}`, () =>
          core.createNamespacedPod({ namespace, body: pod }),
        );
      } catch (error) {
        if (hasEnv) await core.deleteNamespacedSecret({ name: envSecretName(id), namespace }).catch(() => undefined);
        throw podSecurityRefusal(error, spec.name ?? id, namespace, spec.user, imageUser);
      }
      try {
        await deps.confirmGuarded();
        // Its allowlist comes after it (the policy is owned by the pod, so needs its uid): until then
        // the default deny lets it reach nothing, so the order never opens more than the list.
        if (spec.egressAllow) await deps.allowEgress(id, created.metadata?.uid ?? "", spec.egressAllow);
      } catch (error) {
        // A pod that cannot be shown to be under the default-deny policy, or that cannot get its
        // allowlist, does not stay.
        await core.deleteNamespacedPod({ name: id, namespace, gracePeriodSeconds: 0 }).catch(() => undefined);
        if (spec.egressAllow) await deps.forgetEgress(id).catch(() => undefined);
        // Not yet owned by the pod, so the cluster would not remove it.
        if (hasEnv) await core.deleteNamespacedSecret({ name: envSecretName(id), namespace }).catch(() => undefined);
        throw error;
      }
      if (hasEnv) {
        // Owned by its pod: the cluster's garbage collector removes it with the pod, whoever removes that.
        await call(`give the environment of pod ${id} to it`, () =>
          core.patchNamespacedSecret(
            {
              name: envSecretName(id),
              namespace,
              body: {
                metadata: {
                  ownerReferences: [{ apiVersion: "v1", kind: "Pod", name: id, uid: created.metadata?.uid ?? "" }],
                },
              },
            },
            "merge",
          ),
        );
      }
      return id;
    },

    /** A pod starts as it is made: this waits until its sandbox container runs (or ended), or fails saying why not. */
    async start(id) {
      const deadline = Date.now() + 5 * 60_000;
      for (;;) {
        const pod = await poller.next(id);
        if (!pod) throw new NotFoundError(`no such sandbox pod: ${id}`);
        // Placed on a node that is lost, or evicted before it ran: it never will.
        const trouble = podTrouble(pod);
        if (trouble?.ended && !sandboxStatus(pod)?.state?.terminated) {
          throw new SandboxLostError(`pod ${id} cannot start: ${trouble.reason}: ${trouble.detail}`, trouble.reason);
        }
        if (pod.metadata?.deletionTimestamp) throw new EngineError(`pod ${id} was deleted before it started`);
        const status = podStatus(pod);
        if (status === "running") return;
        if (status === "exited") {
          if (sandboxStatus(pod)?.state?.terminated) return; // it ran, and ended already
          const init = pod.status?.initContainerStatuses?.find((c) => c.state?.terminated?.exitCode);
          const why = init?.state?.terminated
            ? `its ${init.name} container ended with exit code ${String(init.state.terminated.exitCode)}`
            : (pod.status?.message ?? pod.status?.reason ?? "it failed");
          throw new EngineError(`pod ${id} ended before its sandbox started: ${why}`);
        }
        const waiting = fatalWaiting(pod);
        if (waiting) {
          throw new EngineError(`pod ${id} cannot start: ${waiting.reason ?? ""}: ${waiting.message ?? ""}`.trim());
        }
        const unschedulable = pod.status?.conditions?.find(
          (c) => c.type === "PodScheduled" && c.reason === "Unschedulable",
        );
        // The scheduler found no node for it: said at once, with the scheduler's words, after a short grace.
        if (unschedulable && Date.now() - new Date(unschedulable.lastTransitionTime ?? Date.now()).getTime() > 30_000) {
          throw new EngineError(`pod ${id} cannot be placed on any node: ${unschedulable.message ?? "unschedulable"}`);
        }
        if (Date.now() > deadline) {
          throw new EngineError(
            `pod ${id} did not start in 5 minutes${unschedulable ? `: ${unschedulable.message ?? "unschedulable"}` : ""}`,
          );
        }
      }
    },

    async pause() {
      throw new InvalidArgumentError(KUBERNETES_LIMITS.pause);
    },
    async unpause() {
      throw new InvalidArgumentError(KUBERNETES_LIMITS.pause);
    },
    async checkpoint() {
      throw new InvalidArgumentError(KUBERNETES_LIMITS.pause);
    },
    async checkpoints() {
      return Promise.resolve([]);
    },
    async restore() {
      throw new InvalidArgumentError(KUBERNETES_LIMITS.pause);
    },
    async removeCheckpoint() {
      throw new InvalidArgumentError(KUBERNETES_LIMITS.pause);
    },

    async stats(id) {
      const pod = await require(id);
      return podStats(pod, specNote(pod).supervisor?.dir, (podId, dir) => deps.readUsage(podId, dir));
    },

    async inspect(id) {
      const pod = await read(id);
      if (!pod) return undefined;
      return podInfo(pod, await envOf(pod), deps.execIdsOf(pod.metadata?.name ?? ""));
    },

    /**
     * Kubernetes cannot signal a container: the supervisor ends the sandbox
     * as a kill would; without one, a kill from inside does; failing both,
     * the pod is deleted.
     */
    async kill(id) {
      forgetWritten(id);
      const pod = await read(id);
      if (!pod || podStatus(pod) !== "running") return;
      const podId = pod.metadata?.name ?? id;
      const note = specNote(pod);
      if (note.supervisor) {
        await deps.terminate(podId, note.supervisor.dir);
        return;
      }
      // A pod sharing its process namespace has the pause process as PID 1: a kill of every other
      // process ends the sandbox with 137, as Docker's kill does, and keeps its record.
      if (
        note.init &&
        (await deps.killAll(podId).then(
          () => true,
          () => false,
        ))
      )
        return;
      const { core, namespace } = await apis();
      await lookup(`delete pod ${podId}`, () =>
        core.deleteNamespacedPod({ name: podId, namespace, gracePeriodSeconds: 0 }),
      );
    },

    async remove(id) {
      forgetWritten(id);
      const pod = await read(id);
      if (!pod) return;
      const podId = pod.metadata?.name ?? id;
      const { core, namespace } = await apis();
      await lookup(`delete pod ${podId}`, () =>
        core.deleteNamespacedPod({ name: podId, namespace, gracePeriodSeconds: 0 }),
      );
      await lookup(`delete the environment of pod ${podId}`, () =>
        core.deleteNamespacedSecret({ name: envSecretName(podId), namespace }),
      );
      // Owned by the pod, so the cluster would remove it too; removed here so nothing waits on that.
      if (pod.metadata?.labels?.[EGRESS_LABEL]) await deps.forgetEgress(podId);
      envs.delete(podId);
      forgetWritten(podId);
    },

    async update(id, limits) {
      forgetWritten(id);
      const { core, namespace } = await apis();
      const pod = await require(id);
      const podId = pod.metadata?.name ?? id;
      if (limits.pidsLimit !== undefined && limits.pidsLimit !== specNote(pod).pidsLimit) {
        throw new InvalidArgumentError(
          "pidsLimit cannot change in place on Kubernetes: the kubelet's podPidsLimit bounds every pod of a node",
        );
      }
      const resources: Record<string, string> = {};
      if (limits.nanoCpus) resources.cpu = `${String(Math.round(limits.nanoCpus / 1e6))}m`;
      if (limits.memoryBytes) resources.memory = String(limits.memoryBytes);
      if (Object.keys(resources).length === 0) return;
      // In-place pod resize: the container keeps running with its new limits.
      await call(`resize pod ${podId}`, () =>
        core.patchNamespacedPodResize(
          {
            name: podId,
            namespace,
            body: { spec: { containers: [{ name: SANDBOX_CONTAINER, resources: { limits: resources } }] } },
          },
          "strategic",
        ),
      );
    },

    /**
     * A pod's name cannot change: its sandfleet name is an annotation, with
     * its hash as a label to find it by. The patch carries the resourceVersion
     * read, so two renames of one pod cannot both succeed (the API server's
     * optimistic concurrency), and a name in use is refused as Docker does.
     * With `from` (a claim), it is one write and nothing else: renameFrom.
     */
    async rename(id, name, options = {}) {
      forgetWritten(id);
      const { core, namespace } = await apis();
      if (options.from !== undefined && POD_ID.test(id)) {
        rememberWritten(await renameFrom({ core, namespace, call }, id, options.from, name));
        return;
      }
      // A conflict may come from the kubelet writing the pod's status meanwhile: read again and retry,
      // unless the name is now taken (another renamer won).
      for (let attempt = 0; ; attempt++) {
        const pod = await require(id);
        const podId = pod.metadata?.name ?? id;
        // A pod the cluster has ended (its node lost, an eviction) is never claimed, whoever listed it warm.
        const trouble = podTrouble(pod);
        if (trouble?.ended) throw new ConflictError(`pod ${podId} has ended (${trouble.reason}): ${trouble.detail}`);
        if (await nameTaken(name)) throw new ConflictError(`the name "${name}" is already in use in ${namespace}`);
        try {
          await call(`rename pod ${podId} to ${name}`, () =>
            core.patchNamespacedPod(
              {
                name: podId,
                namespace,
                body: {
                  metadata: {
                    resourceVersion: pod.metadata?.resourceVersion,
                    labels: { [NAME_HASH_LABEL]: nameHash(name) },
                    annotations: { [NAME_ANNOTATION]: name },
                  },
                },
              },
              "merge",
            ),
          );
          return;
        } catch (error) {
          if (!(error instanceof ConflictError) || attempt >= 20) throw error;
        }
      }
    },

    async list(labels) {
      const { core, namespace } = await apis();
      const { selector, matches } = selectorFor(labels);
      const found = await call("list sandbox pods", () =>
        core.listNamespacedPod({ namespace, labelSelector: selector }),
      );
      return found.items
        .filter((pod) => matches(labelsOf(pod.metadata)))
        .map((pod): ContainerSummary => ({
          id: pod.metadata?.name ?? "",
          name: pod.metadata?.annotations?.[NAME_ANNOTATION] ?? pod.metadata?.name ?? "",
          labels: labelsOf(pod.metadata),
          status: podStatus(pod),
          createdMs: new Date(timeOf(pod.metadata?.creationTimestamp)).getTime(),
          ports: {},
          ...troubleOf(pod),
        }));
    },

    async wait(id) {
      let seen = await require(id);
      const podId = seen.metadata?.name ?? id;
      for (;;) {
        const pod = await poller.next(podId);
        // Evicted through the API, a pod is gone a moment after it ended: what was last seen tells.
        if (!pod && podTrouble(seen)?.ended) return podExitCode(seen);
        if (!pod) throw new NotFoundError(`no such sandbox pod: ${id}`);
        if (podStatus(pod) === "exited") return podExitCode(pod);
        seen = pod;
      }
    },

    /**
     * A forward to a port the pod declares, of a running pod of sandfleet's
     * named by its id (never by a sandfleet name, which another pod may take).
     */
    async connect(id, port) {
      if (!POD_ID.test(id)) throw new NotFoundError(`no such sandbox pod: ${JSON.stringify(id)}`);
      const readPod = () => require(id);
      const pod = await readPod();
      if (pod.metadata?.labels?.[OWNED_LABEL] !== "true") throw new NotFoundError(`no such sandbox pod: ${id}`);
      if (podStatus(pod) !== "running") throw new InvalidArgumentError(`sandbox ${id} is not running`);
      requireServedPort(id, port, servedPortsOf(pod));
      return openPortForward(apis, readPod, id, port);
    },

    /** A pod's log is one stream: stdout and stderr together, as the kubelet keeps it. */
    async logs(id, options) {
      const pod = await require(id);
      const { http, namespace } = await apis();
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      stderr.end();
      const podId = pod.metadata?.name ?? id;
      // A streaming GET: the log as the kubelet has it, and, when following, as it grows.
      const log = await call(`read the log of pod ${id}`, () =>
        http.stream(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(podId)}/log`, {
          container: SANDBOX_CONTAINER,
          follow: options.follow ? true : undefined,
          tailLines: options.tail,
        }),
      );
      log.on("error", (error) => stdout.destroy(error));
      // A reader that stops (a follow interrupted) ends the request, and its connection with it.
      stdout.on("close", () => log.destroy());
      log.pipe(stdout);
      return { stdout, stderr };
    },
  };
}

/** How long the pod a rename wrote stands in for a read of it. */
const WRITTEN_FRESH_MS = 1_000;

/** A key of metadata as a JSON pointer segment ("/" and "~" escaped). */
const pointer = (key: string) => key.replaceAll("~", "~0").replaceAll("/", "~1");

/**
 * Renames a pod only while its sandfleet name is still `from` and it is not
 * being deleted (the taint manager deletes the pods of a lost node): one JSON
 * patch whose test operations the API server applies to the pod as it is, under
 * its own optimistic concurrency, so two claimers of one member cannot both
 * win, and a status the kubelet wrote meanwhile is no conflict. A failed test
 * is a 422; here it means the member was taken, or is going.
 */
async function renameFrom(
  { core, namespace, call }: Pick<KubeApis, "core" | "namespace"> & { call: KubeCall },
  podId: string,
  from: string,
  name: string,
): Promise<V1Pod> {
  const body = [
    { op: "test", path: `/metadata/annotations/${pointer(NAME_ANNOTATION)}`, value: from },
    // A field that is not there tests as null: no deletion under way.
    { op: "test", path: "/metadata/deletionTimestamp", value: null },
    { op: "replace", path: `/metadata/annotations/${pointer(NAME_ANNOTATION)}`, value: name },
    { op: "add", path: `/metadata/labels/${pointer(NAME_HASH_LABEL)}`, value: nameHash(name) },
  ];
  try {
    return await call(`rename pod ${podId} from ${from} to ${name}`, () =>
      core.patchNamespacedPod({ name: podId, namespace, body }, "json"),
    );
  } catch (error) {
    if (error instanceof InvalidArgumentError) {
      throw new ConflictError(
        `pod ${podId} is no longer "${from}" (taken by another, or being removed): ${error.message}`,
      );
    }
    throw error;
  }
}
