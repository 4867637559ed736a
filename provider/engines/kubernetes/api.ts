import type { KubeHttp } from "./kube-http/http.ts";
import type { CoordinationV1, CoreV1, NetworkingV1 } from "./kube-http/resources.ts";
import type { KubernetesTarget } from "./target.ts";

/** The API of one cluster, opened when the engine is first used. */
export interface KubeApis {
  readonly http: KubeHttp;
  readonly core: CoreV1;
  readonly networking: NetworkingV1;
  readonly coordination: CoordinationV1;
  readonly namespace: string;
  readonly context: string;
}

/**
 * Reads the kubeconfig once, on the engine's first call: a process that
 * speaks only to Docker loads none of this (nor node:https, nor a YAML
 * parser).
 */
export function kubeApis(target: KubernetesTarget): () => Promise<KubeApis> {
  let loaded: Promise<KubeApis> | undefined;
  return () => {
    loaded ??= (async () => {
      const [{ loadConnection }, { kubeHttp }, { coordinationV1, coreV1, networkingV1 }] = await Promise.all([
        import("./kube-http/load.ts"),
        import("./kube-http/http.ts"),
        import("./kube-http/resources.ts"),
      ]);
      const config = loadConnection(target);
      const http = kubeHttp(config);
      return {
        http,
        core: coreV1(http),
        networking: networkingV1(http),
        coordination: coordinationV1(http),
        namespace: target.namespace ?? config.namespace ?? "default",
        context: config.context,
      };
    })();
    loaded.catch(() => (loaded = undefined));
    return loaded;
  };
}
