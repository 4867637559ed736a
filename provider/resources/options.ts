import type * as pulumi from "@pulumi/pulumi";
import type { KubernetesEngineOptions } from "../engines/connect.ts";
import { App } from "./app.ts";

/** Adds a dependency on `resource` to the options, keeping the user's own. */
export function withDependency(
  opts: pulumi.CustomResourceOptions,
  ...resources: (pulumi.Resource | undefined)[]
): pulumi.CustomResourceOptions {
  const given = opts.dependsOn === undefined ? [] : Array.isArray(opts.dependsOn) ? opts.dependsOn : [opts.dependsOn];
  const extra = resources.filter((r): r is pulumi.Resource => r !== undefined);
  return extra.length ? { ...opts, dependsOn: [...(given as pulumi.Input<pulumi.Resource>[]), ...extra] } : opts;
}

/** The app a resource belongs to: its name for the provider, and the App resource to depend on. */
export function ownership(
  app: App | string,
  dockerHost?: string,
  kubernetes?: KubernetesEngineOptions,
): {
  app: App | undefined;
  inputs: { app: string; dockerHost: string | undefined; kubernetes: KubernetesEngineOptions | undefined };
} {
  const resource = app instanceof App ? app : undefined;
  return {
    app: resource,
    inputs: {
      app: resource ? resource.appName : (app as string),
      dockerHost: dockerHost ?? resource?.dockerHost,
      kubernetes: kubernetes ?? resource?.kubernetes,
    },
  };
}
