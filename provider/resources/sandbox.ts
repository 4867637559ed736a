import * as pulumi from "@pulumi/pulumi";
import type { SandboxNetwork, SandboxRuntime } from "../runtime/sandbox-params.ts";
import { App } from "./app.ts";
import { delegatingProvider } from "./delegate.ts";

const provider = delegatingProvider(new URL("./sandbox-provider.ts", import.meta.url).href, "sandboxProvider");

export interface SandboxArgs {
  /** The owning app, or its name. */
  app: App | string;
  /** Local image reference. */
  image: pulumi.Input<string>;
  /** Unique within the app; omitted, a name is generated. */
  name?: pulumi.Input<string>;
  command?: pulumi.Input<pulumi.Input<string>[]>;
  entrypoint?: pulumi.Input<pulumi.Input<string>[]>;
  env?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** Absolute working directory. */
  workdir?: pulumi.Input<string>;
  /** CPU limit in cores. Default 1. Changes in place. */
  cpu?: pulumi.Input<number>;
  /** Memory limit in MiB. Default 512. Changes in place. */
  memoryMiB?: pulumi.Input<number>;
  /** Process limit. Default 256. Changes in place. */
  pidsLimit?: pulumi.Input<number>;
  user?: pulumi.Input<string>;
  readOnlyRootfs?: pulumi.Input<boolean>;
  network?: pulumi.Input<SandboxNetwork>;
  runtime?: pulumi.Input<SandboxRuntime>;
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** Docker engine (DOCKER_HOST forms); default the app's, else the local one. */
  dockerHost?: string;
}

/** One sandbox: a locked-down container that stays up for execs. */
export class Sandbox extends pulumi.dynamic.Resource {
  declare readonly containerId: pulumi.Output<string>;
  declare readonly containerName: pulumi.Output<string>;
  declare readonly sandboxName: pulumi.Output<string>;
  declare readonly status: pulumi.Output<string>;
  declare readonly running: pulumi.Output<boolean>;

  constructor(resourceName: string, args: SandboxArgs, opts: pulumi.CustomResourceOptions = {}) {
    const app = args.app instanceof App ? args.app : undefined;
    const { app: _app, dockerHost, ...rest } = args;
    super(
      provider,
      resourceName,
      {
        ...rest,
        app: app ? app.appName : args.app,
        dockerHost: dockerHost ?? app?.dockerHost,
        containerId: undefined,
        containerName: undefined,
        sandboxName: undefined,
        status: undefined,
        running: undefined,
      },
      { ...opts, dependsOn: app ? [app, ...dependencies(opts.dependsOn)] : opts.dependsOn },
      "sandfleet",
      "Sandbox",
    );
  }
}

function dependencies(dependsOn: pulumi.CustomResourceOptions["dependsOn"]): pulumi.Input<pulumi.Resource>[] {
  if (dependsOn === undefined) return [];
  return Array.isArray(dependsOn) ? dependsOn : [dependsOn as pulumi.Input<pulumi.Resource>];
}
