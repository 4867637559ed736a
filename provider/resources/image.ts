import type { KubernetesEngineOptions } from "../engines/connect.ts";
import * as pulumi from "@pulumi/pulumi";
import type { ImageSource } from "../runtime/images/image-recipe.ts";
import { App } from "./app.ts";
import { delegatingProvider } from "./delegate.ts";
import { ownership, withDependency } from "./options.ts";

const provider = delegatingProvider(import.meta.url, "./image-provider", "imageProvider");

/** The runtime's image source; `base` may be another resource's output. */
export interface ImageArgs extends Omit<ImageSource, "base"> {
  /** The owning app, or its name. */
  app: App | string;
  /** Unique within the app; defaults to the resource name. */
  name?: string;
  /** The local image to build on. */
  base?: pulumi.Input<string>;
  /** Where relative paths start. Default: the program's working directory. */
  sourceDir?: string;
  dockerHost?: string;
  /** A Kubernetes cluster instead of a Docker engine; default the app's. */
  kubernetes?: KubernetesEngineOptions;
}

/**
 * A local image: an existing reference, or built from a recipe under a tag
 * that is the recipe's content hash, so that an unchanged recipe never
 * rebuilds and a changed file always does.
 */
export class Image extends pulumi.dynamic.Resource {
  /** The reference a sandbox uses: `sandfleet/<app>/<name>:<hash>`, or the given ref. */
  declare readonly imageRef: pulumi.Output<string>;
  declare readonly imageId: pulumi.Output<string>;
  declare readonly contentHash: pulumi.Output<string>;

  constructor(resourceName: string, args: ImageArgs, opts: pulumi.CustomResourceOptions = {}) {
    const { app, inputs: owner } = ownership(args.app, args.dockerHost, args.kubernetes);
    super(
      provider,
      resourceName,
      {
        ...owner,
        name: args.name ?? resourceName,
        ref: args.ref,
        base: args.base,
        steps: args.steps,
        dockerfile: args.dockerfile,
        network: args.network,
        sourceDir: args.sourceDir ?? process.cwd(),
        imageRef: undefined,
        imageId: undefined,
        contentHash: undefined,
      },
      withDependency(opts, app),
      "sandfleet",
      "Image",
    );
  }
}
