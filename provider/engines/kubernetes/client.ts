import { EngineUnavailableError, InvalidArgumentError } from "../../errors.ts";
import { supervisorFile } from "../binary-archive.ts";
import { connectDocker } from "../docker/client.ts";
import type { Engine, EngineInfo } from "../port.ts";
import { kubeApis } from "./api.ts";
import { kubernetesHost, type KubernetesTarget } from "./target.ts";
import { kubeCalls } from "./errors.ts";
import { eventClient } from "./events.ts";
import { execClient } from "./exec.ts";
import { imagePublisher, kubernetesImages } from "./images.ts";
import { EGRESS_LABEL, egressPolicies } from "./egress-policy.ts";
import { networkClient } from "./networks.ts";
import { KUBERNETES_CAPABILITIES } from "./capabilities.ts";
import { namespaceCapacity } from "./capacity.ts";
import { podClient } from "./pods.ts";
import { publishedByPods, withPublishedFallback } from "./published.ts";
import { recordClient } from "./records.ts";
import { volumeClient } from "./volumes.ts";

export interface KubernetesEngineOptions extends KubernetesTarget {
  /** The local Docker engine that builds images (DOCKER_HOST forms); default the local one. */
  dockerHost?: string;
  /** The storage class of volumes' claims; default the cluster's default class. */
  storageClass?: string;
  /** The size each volume claims; default 1Gi. */
  volumeSize?: string;
}

/**
 * A Kubernetes cluster as a sandfleet engine: sandboxes are pods in one
 * namespace, records are ConfigMaps, volumes are PersistentVolumeClaims,
 * networks are NetworkPolicies, and images are built by the local Docker
 * engine and pushed to the cluster's registry. Cheap: nothing is loaded or
 * sent before the first call.
 */
export function connectKubernetes(options: KubernetesEngineOptions): Engine {
  const host = kubernetesHost(options);
  const apis = kubeApis(options);
  const { call, lookup } = kubeCalls(host);
  const local = connectDocker(options.dockerHost);
  const publisher = imagePublisher(local.images, options.registry, host);
  const exec = execClient(apis, call);
  const networks = networkClient(apis, call, lookup);
  const published = publishedByPods(apis, call);
  const egress = egressPolicies(apis, call, lookup, async (podId) => {
    const { core, namespace } = await apis();
    const pod = await call(`read pod ${podId}`, () => core.readNamespacedPod({ name: podId, namespace }));
    if (!pod.metadata?.labels?.[EGRESS_LABEL]) {
      throw new InvalidArgumentError(`pod ${podId} was made without an egress allowlist; its network cannot change`);
    }
    return pod.metadata.uid ?? "";
  });
  const containers = podClient({
    apis,
    call,
    lookup,
    publish: async (image, layer) => {
      await networks.ensureDefaultDeny();
      return withPublishedFallback(
        image,
        () => publisher.publish(image, layer),
        async () => (await published(image, layer))?.reference,
      );
    },
    async terminate(id, dir) {
      // The readable copy runs under every runtime (gVisor loads no other); `terminate` only signals PID 1.
      await exec.run(id, { argv: [`${dir}/${supervisorFile("runsc")}`, "terminate"] });
    },
    imageConfig: (image) =>
      withPublishedFallback(
        image,
        async () => {
          const info = await local.images.inspect(image);
          return (
            info && {
              id: info.id,
              entrypoint: info.entrypoint,
              cmd: info.cmd,
              user: info.user,
              workdir: info.workdir,
            }
          );
        },
        async () => (await published(image, undefined))?.imageConfig,
      ),
    readUsage: (id, dir) => exec.run(id, { argv: [`${dir}/sandfleet-supervisor`, "stats"] }),
    async killAll(id) {
      await exec.run(id, { argv: ["sh", "-c", "kill -9 -1"] });
    },
    execIdsOf: (id) => exec.idsOf(id),
    confirmGuarded: () => networks.confirmDefaultDeny(),
    allowEgress: (podId, uid, allow) => egress.create(podId, uid, allow),
    forgetEgress: (podId) => egress.remove(podId),
  });
  let info: Promise<EngineInfo> | undefined;
  return {
    host,
    // Known without asking: a command's start (the supervisor's channel) then makes no info() calls.
    execUser: KUBERNETES_CAPABILITIES.execUser,
    containers,
    images: kubernetesImages(local.images, (ref) =>
      withPublishedFallback(
        ref,
        () => local.images.inspect(ref),
        async () => {
          const note = (await published(ref, undefined))?.imageConfig;
          return note && { ...note, env: [], tags: [ref], labels: {} };
        },
      ),
    ),
    networks,
    volumes: volumeClient(apis, call, lookup, {
      storageClass: options.storageClass,
      size: options.volumeSize ?? "1Gi",
    }),
    records: recordClient(apis, call, lookup),
    supervisors: publisher.supervisors(),
    events: eventClient(apis, call),
    exec,
    egress: { set: (podId, allow) => egress.set(podId, allow) },
    async releaseApp(app) {
      await publisher.releaseApp(app).catch((error: unknown) => {
        // No local engine here (an agent inside the cluster builds nothing): no tag was made here either.
        if (!(error instanceof EngineUnavailableError)) throw error;
      });
      // The namespace's default-deny policy stays: it selects sandbox pods alone, and removing it when
      // no pod is left would race another app's pod being made (a pod without it, however briefly).
    },
    // A call in the namespace, which sandfleet's role allows (a read of the namespace itself would need more).
    async ping() {
      const { core, namespace } = await apis();
      await call(`reach namespace ${namespace}`, () => core.listNamespacedConfigMap({ namespace, limit: 1 }));
    },
    info() {
      info ??= (async (): Promise<EngineInfo> => {
        const { core, http, namespace } = await apis();
        const version = await call("ask the cluster its version", () =>
          http.json<{ gitVersion: string }>("GET", "/version"),
        );
        // Images are built by the local engine, so its CPU architecture is the one sandboxes run on;
        // without one (an agent inside the cluster builds nothing), this process's own.
        const builder = await local.info().catch(() => ({
          architecture: process.arch === "x64" ? "amd64" : process.arch,
          os: process.platform,
        }));
        const capacity = await namespaceCapacity(
          () =>
            call(`read the quotas of namespace ${namespace}`, () => core.listNamespacedResourceQuota({ namespace })),
          () => call("list the cluster's nodes", () => core.listNode()),
        );
        return {
          kind: "kubernetes",
          capabilities: KUBERNETES_CAPABILITIES,
          storageDriver: "",
          backingFilesystem: "",
          ...capacity,
          architecture: builder.architecture,
          os: builder.os,
          apiVersion: version.gitVersion,
        };
      })();
      info.catch(() => (info = undefined));
      return info;
    },
  };
}
