import type { KubernetesEngineOptions } from "../engines/connect.ts";
import * as pulumi from "@pulumi/pulumi";
import { App } from "./app.ts";
import { delegatingProvider } from "./delegate.ts";
import { ownership, withDependency } from "./options.ts";
import type { Sandbox } from "./sandbox.ts";

const provider = delegatingProvider(import.meta.url, "./snapshot-provider", "snapshotProvider");

export interface SnapshotArgs {
  /** The owning app, or its name. */
  app: App | string;
  /** The sandbox whose filesystem to commit. */
  sandbox: Sandbox;
  /** Unique within the app; defaults to the resource name. */
  name?: string;
  dockerHost?: string;
  /** A Kubernetes cluster instead of a Docker engine; default the app's. */
  kubernetes?: KubernetesEngineOptions;
}

/** The filesystem of a sandbox committed to an image, usable as the image of another sandbox. */
export class Snapshot extends pulumi.dynamic.Resource {
  declare readonly imageRef: pulumi.Output<string>;
  declare readonly imageId: pulumi.Output<string>;

  constructor(resourceName: string, args: SnapshotArgs, opts: pulumi.CustomResourceOptions = {}) {
    const { app, inputs: owner } = ownership(args.app, args.dockerHost, args.kubernetes);
    super(
      provider,
      resourceName,
      {
        ...owner,
        name: args.name ?? resourceName,
        // The resource id, not an output: it stays known while the sandbox is only updated.
        sandboxId: args.sandbox.id,
        imageRef: undefined,
        imageId: undefined,
      },
      withDependency(opts, app, args.sandbox),
      "sandfleet",
      "Snapshot",
    );
  }
}
