import { dirname } from "node:path";
import type * as k8s from "@kubernetes/client-node";
import { InvalidArgumentError } from "../../errors.ts";
import { keepConnections } from "./connections.ts";
import type { KubernetesTarget } from "./target.ts";

/** The typed API clients of one cluster, made when the engine is first used. */
export interface KubeApis {
  readonly lib: typeof k8s;
  readonly config: k8s.KubeConfig;
  readonly core: k8s.CoreV1Api;
  readonly networking: k8s.NetworkingV1Api;
  readonly namespace: string;
  readonly context: string;
}

/**
 * Loads @kubernetes/client-node and reads the kubeconfig once: most
 * processes speak only to Docker and never pay for the library.
 */
export function kubeApis(target: KubernetesTarget): () => Promise<KubeApis> {
  let loaded: Promise<KubeApis> | undefined;
  return () => {
    loaded ??= (async () => {
      // An optional peer dependency: Docker users never download it.
      const lib = await import("@kubernetes/client-node").catch((error: unknown) => {
        throw new InvalidArgumentError(
          "sandfleet speaks to Kubernetes through @kubernetes/client-node, which is not installed: " +
            `npm install @kubernetes/client-node (${error instanceof Error ? error.message.split("\n")[0] : String(error)})`,
        );
      });
      const config = new lib.KubeConfig();
      if (target.kubeconfig) {
        // A kubeconfig named by the target may come from a pull request: its plugins run only when allowed.
        const refuse = (reason: string): never => {
          throw new InvalidArgumentError(`kubeconfig ${target.kubeconfig ?? ""} ${reason}`);
        };
        if (target.allowExecCredentials === true) {
          config.loadFromFile(target.kubeconfig);
          const { useTokenFiles } = await import("./token-files.ts");
          useTokenFiles(config, [target.kubeconfig]);
        } else {
          // Its checks load a YAML parser: a process that never speaks to a cluster does not.
          const { loadedUsersProblem, readKubeconfig } = await import("./kubeconfig.ts");
          const read = readKubeconfig(target.kubeconfig);
          if ("problem" in read) refuse(read.problem);
          else {
            // The loader is given the object that was checked, never the file: no other reading of it to differ.
            config.loadFromString(JSON.stringify(read.document));
            config.makePathsAbsolute(dirname(target.kubeconfig));
            const loaded = loadedUsersProblem(config.users, read.document);
            if (loaded) refuse(loaded);
          }
        }
      } else {
        config.loadFromDefault();
        // kubectl's tokenFile, which the library does not read (and a YAML parser only here, on a cluster's first use).
        const { defaultKubeconfigFiles, useTokenFiles } = await import("./token-files.ts");
        useTokenFiles(config, defaultKubeconfigFiles());
      }
      if (target.context) config.setCurrentContext(target.context);
      keepConnections(config);
      const context = config.getCurrentContext();
      const namespace = target.namespace ?? config.getContextObject(context)?.namespace ?? "default";
      return {
        lib,
        config,
        core: config.makeApiClient(lib.CoreV1Api),
        networking: config.makeApiClient(lib.NetworkingV1Api),
        namespace,
        context,
      };
    })();
    loaded.catch(() => (loaded = undefined));
    return loaded;
  };
}
