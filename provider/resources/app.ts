import * as pulumi from "@pulumi/pulumi";
import type { KubernetesEngineOptions } from "../engines/connect.ts";
import type { Webhook } from "../runtime/observability/webhooks.ts";
import { delegatingProvider } from "./delegate.ts";

const provider = delegatingProvider(import.meta.url, "./app-provider", "appProvider");

export interface AppArgs {
  /** The app's name (Modal's rules); defaults to the resource name. */
  name?: string;
  /**
   * Whether the app's networked sandboxes get NAT to the outside. Default
   * false: they reach each other and nothing else. On a Docker engine they
   * never reach its host, its bridges or link-local addresses either way, and
   * their ports published on 127.0.0.1 reach them.
   */
  internet?: pulumi.Input<boolean>;
  /** Where `sandfleet agent` POSTs the app's sandbox events, signed; changed in place. */
  webhooks?: pulumi.Input<Webhook[]>;
  /** Docker engine (DOCKER_HOST forms); default the local one. */
  dockerHost?: string;
  /** A Kubernetes cluster to run the app's sandboxes on instead of a Docker engine. */
  kubernetes?: KubernetesEngineOptions;
}

/**
 * A namespace for sandboxes: every object it owns carries its name as a label,
 * and its networked sandboxes share its private bridge network.
 */
export class App extends pulumi.dynamic.Resource {
  /** The app's name, known at construction so sandboxes can be named from it. */
  readonly appName: string;
  readonly dockerHost: string | undefined;
  readonly kubernetes: KubernetesEngineOptions | undefined;
  declare readonly name: pulumi.Output<string>;
  declare readonly networkId: pulumi.Output<string>;
  declare readonly networkName: pulumi.Output<string>;

  constructor(resourceName: string, args: AppArgs = {}, opts?: pulumi.CustomResourceOptions) {
    const appName = args.name ?? resourceName;
    super(
      provider,
      resourceName,
      {
        name: appName,
        internet: args.internet,
        webhooks: args.webhooks,
        dockerHost: args.dockerHost,
        kubernetes: args.kubernetes,
        networkId: undefined,
        networkName: undefined,
      },
      opts,
      "sandfleet",
      "App",
    );
    this.appName = appName;
    this.dockerHost = args.dockerHost;
    this.kubernetes = args.kubernetes;
  }
}
