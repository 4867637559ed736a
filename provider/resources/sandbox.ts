import type { KubernetesEngineOptions } from "../engines/connect.ts";
import * as pulumi from "@pulumi/pulumi";
import type { ReadinessParams } from "../runtime/engine-state/readiness.ts";
import type { IdleAction, SandboxNetwork, SandboxRuntime } from "../runtime/sandboxes/sandbox-params.ts";
import { App } from "./app.ts";
import { delegatingProvider } from "./delegate.ts";
import { ownership, withDependency } from "./options.ts";
import type { Secret } from "./secret.ts";
import { imageRefOf, mergedSecretEnv, volumeMounts, type ImageInput, type VolumeMountInput } from "./inputs.ts";

const provider = delegatingProvider(import.meta.url, "./sandbox-provider", "sandboxProvider");

export type { ImageInput, VolumeMountInput } from "./inputs.ts";

export interface SandboxArgs {
  /** The owning app, or its name. */
  app: App | string;
  /** Local image reference, or an Image or Snapshot resource. */
  image: ImageInput;
  /** Unique within the app; omitted, a name is generated. */
  name?: pulumi.Input<string>;
  command?: pulumi.Input<pulumi.Input<string>[]>;
  entrypoint?: pulumi.Input<pulumi.Input<string>[]>;
  env?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** Secrets whose values become environment variables. */
  secrets?: Secret[];
  /** Mount path -> volume (a Volume resource, or a Docker volume name). */
  volumes?: Record<string, VolumeMountInput>;
  /** Absolute working directory. */
  workdir?: pulumi.Input<string>;
  /** CPU limit in cores. Default 1. Changes in place. */
  cpu?: pulumi.Input<number>;
  /** Memory limit in MiB. Default 512. Changes in place. */
  memoryMiB?: pulumi.Input<number>;
  /** Disk for the writable layer in MiB. Default 10 GiB where the engine can bound it. Replaces on change. */
  diskMiB?: pulumi.Input<number>;
  /** Process limit. Default 256. Changes in place. */
  pidsLimit?: pulumi.Input<number>;
  user?: pulumi.Input<string>;
  readOnlyRootfs?: pulumi.Input<boolean>;
  network?: pulumi.Input<SandboxNetwork>;
  /** TCP ports to publish on 127.0.0.1; needs network "app". */
  ports?: pulumi.Input<number[]>;
  /** `pulumi up` returns once this probe passes, or fails naming it. */
  readiness?: pulumi.Input<ReadinessParams>;
  /** Maximum lifetime in ms. */
  timeoutMs?: pulumi.Input<number>;
  /** Idle time in ms after which the sandbox ends. */
  idleTimeoutMs?: pulumi.Input<number>;
  /** "terminate" (default) or "pause": what the idle timeout does; pausing needs `sandfleet agent`. */
  idleAction?: pulumi.Input<IdleAction>;
  /** Reach only these domains, `*.domain` wildcards and IPv4 CIDRs; the list changes in place. */
  egress?: pulumi.Input<{ allow: pulumi.Input<pulumi.Input<string>[]> }>;
  runtime?: pulumi.Input<SandboxRuntime>;
  /** Run sandfleet's supervisor as PID 1 (default true); false: every exec an engine exec. */
  supervisor?: pulumi.Input<boolean>;
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** Docker engine (DOCKER_HOST forms); default the app's, else the local one. */
  dockerHost?: string;
  /** A Kubernetes cluster instead of a Docker engine; default the app's. */
  kubernetes?: KubernetesEngineOptions;
}

/** One sandbox: a locked-down container that stays up for execs. */
export class Sandbox extends pulumi.dynamic.Resource {
  declare readonly containerId: pulumi.Output<string>;
  declare readonly containerName: pulumi.Output<string>;
  declare readonly sandboxName: pulumi.Output<string>;
  declare readonly status: pulumi.Output<string>;
  declare readonly running: pulumi.Output<boolean>;
  /** Container port -> host port on 127.0.0.1. */
  declare readonly publishedPorts: pulumi.Output<Record<string, number>>;

  constructor(resourceName: string, args: SandboxArgs, opts: pulumi.CustomResourceOptions = {}) {
    const { app, inputs: owner } = ownership(args.app, args.dockerHost, args.kubernetes);
    const { app: _app, dockerHost: _dockerHost, kubernetes: _kubernetes, image, secrets, volumes, ...rest } = args;
    super(
      provider,
      resourceName,
      {
        ...rest,
        ...owner,
        // Not compared by diff: it lets a create recognise its own leftovers (createSandbox).
        declaredBy: `${pulumi.getProject()}/${pulumi.getStack()}/${resourceName}`,
        image: imageRefOf(image),
        volumes: volumeMounts(volumes),
        secretEnv: mergedSecretEnv(secrets),
        containerId: undefined,
        containerName: undefined,
        sandboxName: undefined,
        status: undefined,
        running: undefined,
        publishedPorts: undefined,
      },
      {
        ...withDependency(opts, app),
        additionalSecretOutputs: ["secretEnv", ...(opts.additionalSecretOutputs ?? [])],
      },
      "sandfleet",
      "Sandbox",
    );
  }
}
