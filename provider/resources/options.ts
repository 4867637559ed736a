import type * as pulumi from "@pulumi/pulumi";

/** Adds a dependency on `resource` to the options, keeping the user's own. */
export function withDependency(
  opts: pulumi.CustomResourceOptions,
  ...resources: (pulumi.Resource | undefined)[]
): pulumi.CustomResourceOptions {
  const given = opts.dependsOn === undefined ? [] : Array.isArray(opts.dependsOn) ? opts.dependsOn : [opts.dependsOn];
  const extra = resources.filter((r): r is pulumi.Resource => r !== undefined);
  return extra.length ? { ...opts, dependsOn: [...(given as pulumi.Input<pulumi.Resource>[]), ...extra] } : opts;
}
