import type { KubernetesEngineOptions } from "../engines/connect.ts";
import type { Webhook } from "../runtime/observability/webhooks.ts";
import type { ImageSource } from "../runtime/images/image-recipe.ts";
import type { ReadinessParams } from "../runtime/engine-state/readiness.ts";
import type { EgressPolicy } from "../runtime/networks/egress-rules.ts";
import type { SandboxParams } from "../runtime/sandboxes/sandbox-params.ts";

/** An image as written in sandfleet.yaml: the runtime's own shape. */
export type SpecImage = ImageSource;

export interface SpecVolume {
  retainOnDelete?: boolean;
}

export type SecretSource = { config: string } | { env: string };

export interface SpecSecret {
  values: Record<string, SecretSource>;
}

/** A readiness probe as written in sandfleet.yaml: the API's, with durations as text (`500ms`, `2m`). */
export interface SpecReadiness extends Pick<ReadinessParams, "exec"> {
  /** The API's `tcpPort`. */
  tcp?: ReadinessParams["tcpPort"];
  /** The API's `intervalMs`. */
  interval?: string;
  /** The API's `timeoutMs`. */
  timeout?: string;
}

/** The sandbox fields sandfleet.yaml writes exactly as the API (SandboxParams) takes them. */
export type SpecFieldsAsInApi =
  | "command"
  | "entrypoint"
  | "env"
  | "workdir"
  | "cpu"
  | "user"
  | "readOnlyRootfs"
  | "network"
  | "ports"
  | "idleAction"
  | "runtime"
  | "supervisor"
  | "tags";

/**
 * A sandbox as written in sandfleet.yaml: the API's own fields where they are the same, and, where
 * the YAML speaks in its own units or refers to other entries by name, that form (to-params.ts
 * turns it into the API's; the API field each becomes is named). `specCoversApi` in to-params.ts
 * fails to compile when the API gains a field the YAML has not decided on.
 */
export interface SpecSandbox extends Pick<SandboxParams, SpecFieldsAsInApi> {
  /** An image, snapshot or image entry by name, or a local reference. The API's `image`. */
  image: string;
  /** Secret entries by name. Their values become the API's `secretEnv`. */
  secrets?: string[];
  /** Mount path → volume entry by name. The API's `volumes`. */
  volumes?: Record<string, string | { volume: string; readOnly?: boolean }>;
  /** A size such as `512Mi`. The API's `memoryMiB`. */
  memory?: string;
  /** A size such as `1Gi`. The API's `diskMiB`. */
  disk?: string;
  /** The API's `pidsLimit`. */
  pids?: SandboxParams["pidsLimit"];
  readiness?: SpecReadiness;
  /** A duration such as `5m`. The API's `timeoutMs`. */
  timeout?: string;
  /** A duration such as `10m`. The API's `idleTimeoutMs`. */
  idleTimeout?: string;
  egress?: EgressPolicy;
}

export interface SpecSnapshot {
  sandbox: string;
}

export interface SpecPool {
  replicas: number;
  rollout?: "rolling" | "all-at-once";
  template: SpecSandbox;
}

/** sandfleet.yaml, once it has passed validation. */
export interface SandfleetSpec {
  /** The file it came from, for messages. */
  file: string;
  /** The directory relative paths start from. */
  dir: string;
  app: string;
  dockerHost?: string;
  kubernetes?: KubernetesEngineOptions;
  internet?: boolean;
  images: Record<string, SpecImage>;
  volumes: Record<string, SpecVolume>;
  secrets: Record<string, SpecSecret>;
  sandboxes: Record<string, SpecSandbox>;
  snapshots: Record<string, SpecSnapshot>;
  pools: Record<string, SpecPool>;
  webhooks: Webhook[];
}
