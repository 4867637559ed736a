import type { KubernetesEngineOptions } from "../engines/connect.ts";
import type { Webhook } from "../runtime/observability/webhooks.ts";
import type { ImageSource } from "../runtime/images/image-recipe.ts";
import type { IdleAction, SandboxNetwork, SandboxRuntime } from "../runtime/sandboxes/sandbox-params.ts";

/** An image as written in sandfleet.yaml: the runtime's own shape. */
export type SpecImage = ImageSource;

export interface SpecVolume {
  retainOnDelete?: boolean;
}

export type SecretSource = { config: string } | { env: string };

export interface SpecSecret {
  values: Record<string, SecretSource>;
}

export interface SpecReadiness {
  tcp?: number;
  exec?: string[];
  interval?: string;
  timeout?: string;
}

/** A sandbox as written in sandfleet.yaml: sizes like `512Mi`, durations like `5m`. */
export interface SpecSandbox {
  image: string;
  command?: string[];
  entrypoint?: string[];
  env?: Record<string, string>;
  secrets?: string[];
  volumes?: Record<string, string | { volume: string; readOnly?: boolean }>;
  workdir?: string;
  cpu?: number;
  memory?: string;
  disk?: string;
  pids?: number;
  user?: string;
  readOnlyRootfs?: boolean;
  network?: SandboxNetwork;
  ports?: number[];
  readiness?: SpecReadiness;
  timeout?: string;
  idleTimeout?: string;
  idleAction?: IdleAction;
  egress?: { allow: string[] };
  runtime?: SandboxRuntime;
  supervisor?: boolean;
  tags?: Record<string, string>;
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
