import type * as pulumi from "@pulumi/pulumi";

/**
 * A dynamic provider is serialized into the Pulumi state as source text, with
 * everything its functions capture. Capturing dockerode (sockets, native
 * bindings) does not serialize, so each provider here captures only the URL of
 * the module that implements it, and loads that module when the engine calls.
 * The implementation then creates its Docker client inside each method.
 */
/** The operations every sandfleet provider implements. */
export type FullProvider = Required<Omit<pulumi.dynamic.ResourceProvider, "configure">>;

/**
 * `sibling` is the implementation module's path next to `base` (the resource's
 * own `import.meta.url`), without extension: the same one as `base`, so it is
 * the .ts source in this repository and the built .js file in the package.
 */
export function delegatingProvider(base: string, sibling: string, exportName: string): pulumi.dynamic.ResourceProvider {
  const moduleUrl = new URL(`${sibling}${base.slice(base.lastIndexOf("."))}`, base).href;
  const load = async (): Promise<FullProvider> => {
    const module = (await import(moduleUrl)) as Record<string, FullProvider>;
    const provider = module[exportName];
    if (!provider) throw new Error(`sandfleet: ${moduleUrl} has no export ${exportName}`);
    return provider;
  };
  return {
    check: async (olds, news) => (await load()).check(olds, news),
    diff: async (id, olds, news) => (await load()).diff(id, olds, news),
    create: async (inputs) => (await load()).create(inputs),
    read: async (id, props) => (await load()).read(id, props),
    update: async (id, olds, news) => (await load()).update(id, olds, news),
    delete: async (id, props) => (await load()).delete(id, props),
  };
}
