import type { KubernetesEngineOptions } from "../engines/connect.ts";
import * as pulumi from "@pulumi/pulumi";
import { App } from "./app.ts";
import { delegatingProvider } from "./delegate.ts";
import { ownership, withDependency } from "./options.ts";
import type { SandboxArgs } from "./sandbox.ts";
import { imageRefOf, mergedSecretEnv, volumeMounts } from "./inputs.ts";

const provider = delegatingProvider(import.meta.url, "./pool-provider", "poolProvider");

/** The sandbox every member is made from: a Sandbox's arguments, less its app, name and engine. */
export type PoolTemplateArgs = Omit<SandboxArgs, "app" | "name" | "dockerHost" | "kubernetes">;

export interface SandboxPoolArgs {
  app: App | string;
  /** Unique within the app; defaults to the resource name. */
  name?: string;
  /** Ready members to keep. Changing it adds or removes members without touching the others. */
  replicas: pulumi.Input<number>;
  template: PoolTemplateArgs;
  /** "rolling" (default) keeps the ready count while a new template replaces members; or "all-at-once". */
  rollout?: pulumi.Input<"rolling" | "all-at-once">;
  dockerHost?: string;
  /** A Kubernetes cluster instead of a Docker engine; default the app's. */
  kubernetes?: KubernetesEngineOptions;
}

/**
 * N warm, ready sandboxes of one template. `pulumi up` returns once they are
 * ready; the runtime claims members atomically and `sandfleet agent` refills.
 */
export class SandboxPool extends pulumi.dynamic.Resource {
  /** Members ready to be claimed, as of the last up or refresh. */
  declare readonly readyCount: pulumi.Output<number>;

  constructor(resourceName: string, args: SandboxPoolArgs, opts: pulumi.CustomResourceOptions = {}) {
    const { app, inputs: owner } = ownership(args.app, args.dockerHost, args.kubernetes);
    const { image, secrets, volumes, ...rest } = args.template;
    super(
      provider,
      resourceName,
      {
        ...owner,
        name: args.name ?? resourceName,
        replicas: args.replicas,
        rollout: args.rollout,
        template: { ...rest, image: imageRefOf(image), volumes: volumeMounts(volumes) },
        // Apart from the template, so that a preview shows template changes in the clear.
        secretEnv: mergedSecretEnv(secrets),
        readyCount: undefined,
      },
      { ...withDependency(opts, app), additionalSecretOutputs: ["secretEnv", ...(opts.additionalSecretOutputs ?? [])] },
      "sandfleet",
      "SandboxPool",
    );
  }
}
