import type { KubernetesEngineOptions } from "../engines/connect.ts";
import * as pulumi from "@pulumi/pulumi";
import { App } from "./app.ts";
import { delegatingProvider } from "./delegate.ts";
import { ownership, withDependency } from "./options.ts";

const provider = delegatingProvider(import.meta.url, "./volume-provider", "volumeProvider");

export interface VolumeArgs {
  /** The owning app, or its name. */
  app: App | string;
  /** Unique within the app; defaults to the resource name. */
  name?: string;
  /** Keep the volume and its data when the resource is deleted. Default false. */
  retainOnDelete?: pulumi.Input<boolean>;
  dockerHost?: string;
  /** A Kubernetes cluster instead of a Docker engine; default the app's. */
  kubernetes?: KubernetesEngineOptions;
}

/** A named Docker volume whose data outlives the sandboxes that mount it. */
export class Volume extends pulumi.dynamic.Resource {
  /** The Docker volume's name, known at construction: `sandfleet-<app>-<name>`. */
  declare readonly volumeName: pulumi.Output<string>;
  readonly app: App | undefined;

  constructor(resourceName: string, args: VolumeArgs, opts: pulumi.CustomResourceOptions = {}) {
    const { app, inputs: owner } = ownership(args.app, args.dockerHost, args.kubernetes);
    super(
      provider,
      resourceName,
      {
        ...owner,
        name: args.name ?? resourceName,
        retainOnDelete: args.retainOnDelete,
        volumeName: undefined,
      },
      withDependency(opts, app),
      "sandfleet",
      "Volume",
    );
    this.app = app;
  }
}
