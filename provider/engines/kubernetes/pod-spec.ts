import type { V1Container, V1Pod, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import { InvalidArgumentError } from "../../errors.ts";
import type { ContainerSpec, HealthCheck, VolumeMount } from "../port.ts";
import { EGRESS_LABEL } from "./egress-policy.ts";
import { kubeMetadata, kubeName, OWNED_LABEL, validLabelValue, nameHash } from "./labels.ts";

/** The one container of a sandbox's pod. */
export const SANDBOX_CONTAINER = "sandbox";
/** A pod's network, as a label its NetworkPolicy selects by. */
export const NETWORK_LABEL = "sandfleet.io/network";
/** The pool a pod belongs to, for spreading a pool's members over nodes. */
export const SPREAD_LABEL = "sandfleet.io/spread";
/** What the pod spec cannot say, kept for inspect: the pids limit and the image as sandfleet named it. */
export const SPEC_ANNOTATION = "sandfleet.io/spec";
/** The RuntimeClass a `runsc` sandbox runs with. */
export const GVISOR_RUNTIME_CLASS = "gvisor";

export interface PodSpecContext {
  id: string;
  namespace: string;
  /** The image as the cluster pulls it (pushed to its registry, with the supervisor in it when the spec has one). */
  image: string;
  /** The Secret holding the sandbox's environment. */
  envSecret: string | undefined;
  /** The label a pool's members share, to spread them over nodes. */
  spreadKey: string | undefined;
  /** The image's own user (its USER), which the container runs as when the spec names none. */
  imageUser?: string | undefined;
  /** What the maker's Docker engine said of the image, noted for an agent in the cluster, which has none. */
  imageConfig?: ImageNote | undefined;
}

/** An image's config as a pod notes it: enough to make another sandbox of it without a Docker engine. */
export interface ImageNote {
  id: string;
  entrypoint: readonly string[] | undefined;
  cmd: readonly string[] | undefined;
  user: string;
  workdir: string;
}

/** The spec fields only sandfleet's own daemons use: those run on Docker only. */
function refuseDaemonFields(spec: ContainerSpec): void {
  const docker = [
    spec.dns?.length ? "dns (an egress allowlist)" : undefined,
    spec.capAdd?.length ? "capAdd" : undefined,
    spec.restartUnlessStopped ? "restartUnlessStopped" : undefined,
    spec.log ? "log" : undefined,
  ].filter((field) => field !== undefined);
  if (docker.length > 0) {
    throw new InvalidArgumentError(`${docker.join(", ")}: not available on Kubernetes; these need the Docker engine`);
  }
}

/** The uid (and gid) a spec's user names, when it names them by number. */
export function numericUser(user: string | undefined): { runAsUser?: number; runAsGroup?: number } {
  const match = /^(\d+)(?::(\d+))?$/.exec(user ?? "");
  if (!match) return {};
  return { runAsUser: Number(match[1]), ...(match[2] ? { runAsGroup: Number(match[2]) } : {}) };
}

/**
 * Whether the pod can promise Kubernetes that it never runs as root: only a
 * numeric, non-zero uid can be checked by the kubelet before the container
 * starts. A user name, uid 0, or the image's own user cannot.
 */
export function provablyNonRoot(user: string | undefined): boolean {
  const { runAsUser } = numericUser(user);
  return runAsUser !== undefined && runAsUser !== 0;
}

/**
 * The hardening every container of a sandbox's pod gets, as on Docker, in the
 * form Pod Security "restricted" asks for: every capability dropped, no
 * privilege escalation, RuntimeDefault seccomp, and runAsNonRoot with the
 * numeric uid when the user is not root.
 */
function containerSecurity(spec: ContainerSpec, user: string | undefined): V1Container["securityContext"] {
  return {
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: spec.readOnlyRootfs,
    capabilities: { drop: [...new Set(["ALL", ...spec.capDrop])] },
    seccompProfile: { type: "RuntimeDefault" },
    ...numericUser(user),
    ...(provablyNonRoot(user) ? { runAsNonRoot: true } : {}),
  };
}

/** A Kubernetes name for a path: tmpfs volumes need one. */
const volumeName = (prefix: string, i: number) => `${prefix}-${String(i)}`;

/**
 * A sandbox's pod: the same hardening as its container on Docker (non-root
 * where the spec says so, every capability dropped, no privilege escalation,
 * RuntimeDefault seccomp, cpu, memory and ephemeral-storage limits), no
 * service-account token, no service links, never restarted.
 */
export function podFor(spec: ContainerSpec, ctx: PodSpecContext): V1Pod {
  refuseDaemonFields(spec);
  // Who the container runs as: the spec's user, else the image's; only a numeric one can be promised non-root.
  const runsAs = spec.user ?? (ctx.imageUser || undefined);
  const volumes: V1Volume[] = [];
  const mounts: V1VolumeMount[] = [];
  Object.entries(spec.tmpfs ?? {}).forEach(([path, options], i) => {
    const size = /size=(\d+[kmgKMG]?)/.exec(options)?.[1];
    volumes.push({
      name: volumeName("tmpfs", i),
      emptyDir: { medium: "Memory", ...(size ? { sizeLimit: kubeQuantity(size) } : {}) },
    });
    mounts.push({ name: volumeName("tmpfs", i), mountPath: path });
  });
  (spec.mounts ?? []).forEach((mount, i) => {
    volumes.push({ name: volumeName("volume", i), persistentVolumeClaim: { claimName: kubeName(mount.volume) } });
    mounts.push({
      name: volumeName("volume", i),
      mountPath: mount.target,
      readOnly: mount.readOnly,
      ...(mount.subPath ? { subPath: mount.subPath } : {}),
    });
  });
  const limits: Record<string, string> = {};
  if (spec.nanoCpus > 0) limits.cpu = `${String(Math.max(1, Math.round(spec.nanoCpus / 1e6)))}m`;
  if (spec.memoryBytes > 0) limits.memory = String(spec.memoryBytes);
  if (spec.diskBytes) limits["ephemeral-storage"] = String(spec.diskBytes);
  // Requests stay small: a sandbox is mostly idle, and a node packs many.
  const requests: Record<string, string> = {
    cpu: "10m",
    memory: String(Math.min(spec.memoryBytes || 32 << 20, 32 << 20)),
    // Unset, the request would be the limit: a node would seat few sandboxes for disk they seldom use.
    ...(spec.diskBytes ? { "ephemeral-storage": String(Math.min(spec.diskBytes, 64 << 20)) } : {}),
  };
  const container: V1Container = {
    name: SANDBOX_CONTAINER,
    image: ctx.image,
    imagePullPolicy: "IfNotPresent",
    ...(spec.entrypoint ? { command: [...spec.entrypoint] } : {}),
    ...(spec.cmd ? { args: [...spec.cmd] } : {}),
    ...(spec.workdir ? { workingDir: spec.workdir } : {}),
    ...(ctx.envSecret ? { envFrom: [{ secretRef: { name: ctx.envSecret } }] } : {}),
    securityContext: containerSecurity(spec, runsAs),
    resources: { limits, requests },
    volumeMounts: mounts,
    ...(spec.ports?.length ? { ports: spec.ports.map((port) => ({ containerPort: port, protocol: "TCP" })) } : {}),
    ...(spec.healthcheck
      ? {
          readinessProbe: {
            exec: { command: [...spec.healthcheck.argv] },
            periodSeconds: Math.max(1, Math.round(spec.healthcheck.intervalMs / 1000)),
            timeoutSeconds: Math.max(1, Math.round(spec.healthcheck.timeoutMs / 1000)),
            failureThreshold: Math.max(1, spec.healthcheck.retries),
            initialDelaySeconds: 0,
          },
        }
      : {}),
  };
  const name = spec.name ?? ctx.id;
  const meta = kubeMetadata(spec.labels, name);
  // A pod with an allowlist is on no network: its own policy (egress-policy.ts) selects it by its id.
  const network = spec.networkMode === "none" || spec.egressAllow ? undefined : networkLabelValue(spec.networkMode);
  const labels = {
    ...meta.labels,
    ...(network ? { [NETWORK_LABEL]: network } : {}),
    ...(spec.egressAllow ? { [EGRESS_LABEL]: ctx.id } : {}),
    ...(ctx.spreadKey ? { [SPREAD_LABEL]: ctx.spreadKey } : {}),
  };
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: ctx.id,
      namespace: ctx.namespace,
      labels,
      annotations: {
        ...meta.annotations,
        [SPEC_ANNOTATION]: JSON.stringify({
          image: spec.image,
          pidsLimit: spec.pidsLimit,
          user: spec.user ?? "",
          // Read from the maker's Docker engine; an agent in the cluster, which has none, reads it here.
          ...(ctx.imageConfig ? { imageConfig: ctx.imageConfig } : {}),
          init: spec.init,
          runtime: spec.runtime,
          networkMode: spec.networkMode,
          supervisor: spec.supervisor,
          mounts: spec.mounts ?? [],
          healthcheck: spec.healthcheck,
        }),
      },
    },
    spec: {
      restartPolicy: "Never",
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      // Without the supervisor, the pod's own pause process is PID 1: it reaps orphans, as Docker's init does.
      shareProcessNamespace: spec.init ? true : undefined,
      terminationGracePeriodSeconds: 2,
      // A sandbox on a node the cluster marks unreachable or not ready is lost the moment it does
      // (not after the default 300 s): the taint manager then evicts it, which marks the pod with
      // why, and its pool refills elsewhere (pod-trouble.ts reads it).
      tolerations: NODE_LOSS_TAINTS.map((key) => ({
        key,
        operator: "Exists",
        effect: "NoExecute",
        tolerationSeconds: 0,
      })),
      ...(spec.runtime === "runsc" ? { runtimeClassName: GVISOR_RUNTIME_CLASS } : {}),
      securityContext: {
        seccompProfile: { type: "RuntimeDefault" },
        ...(provablyNonRoot(runsAs) ? { runAsNonRoot: true } : {}),
      },
      containers: [container],
      volumes,
      ...(ctx.spreadKey
        ? {
            topologySpreadConstraints: [
              {
                maxSkew: 1,
                topologyKey: "kubernetes.io/hostname",
                whenUnsatisfiable: "ScheduleAnyway",
                labelSelector: { matchLabels: { [SPREAD_LABEL]: ctx.spreadKey, [OWNED_LABEL]: "true" } },
              },
            ],
          }
        : {}),
    },
  };
}

/** The taints the node lifecycle controller puts on a node it lost. */
export const NODE_LOSS_TAINTS = ["node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready"];

/** A network's name as a label value: itself when it fits, else its hash. */
export function networkLabelValue(network: string): string {
  return validLabelValue(network) ? network : nameHash(network).slice(0, 32);
}

/** Docker's size (1g, 512m, 65536k, bytes) as a Kubernetes quantity. */
function kubeQuantity(size: string): string {
  const match = /^(\d+)([kmgKMG]?)$/.exec(size);
  if (!match) return size;
  const unit = { k: "Ki", m: "Mi", g: "Gi", "": "" }[(match[2] ?? "").toLowerCase()] ?? "";
  return `${match[1] ?? ""}${unit}`;
}

/** A Kubernetes quantity as a number: bytes, cores (millicores read as fractions). */
export function parseQuantity(value: string | undefined): number {
  if (!value) return 0;
  const match = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|k|M|G)?$/.exec(value);
  if (!match) return 0;
  const scale: Record<string, number> = { m: 1e-3, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, k: 1e3, M: 1e6, G: 1e9 };
  return Number(match[1]) * (match[2] ? (scale[match[2]] ?? 1) : 1);
}

/** What a pod notes of its sandbox spec (SPEC_ANNOTATION). */
export interface SpecNote {
  image?: string;
  /** The image's config, as the maker's Docker engine read it. */
  imageConfig?: ImageNote;
  pidsLimit?: number;
  user?: string;
  init?: boolean;
  runtime?: string;
  networkMode?: string;
  mounts?: VolumeMount[];
  healthcheck?: HealthCheck;
  supervisor?: { version: string; dir: string };
}

export function specNote(pod: V1Pod): SpecNote {
  try {
    return JSON.parse(pod.metadata?.annotations?.[SPEC_ANNOTATION] ?? "{}") as SpecNote;
  } catch {
    return {};
  }
}
