// Where a cluster is, in words any user's program can type-check: nothing here
// names @kubernetes/client-node, whose types need others (ws) a user may not have.

/** Where a Kubernetes engine is: a kubeconfig context, a namespace, and the registry its nodes pull from. */
export interface KubernetesTarget {
  /** A context of the kubeconfig; default its current context. */
  context?: string;
  /** The namespace sandfleet works in; default the context's, else "default". */
  namespace?: string;
  /** A kubeconfig file; default KUBECONFIG, else ~/.kube/config. */
  kubeconfig?: string;
  /**
   * The registry the cluster pulls sandbox images from (host[:port][/path]).
   * Images are built by the local Docker engine and pushed there.
   */
  registry?: string;
}

/** How an engine on this target is named in messages and ids of the engine: kubernetes://context/namespace. */
export function kubernetesHost(target: KubernetesTarget): string {
  return `kubernetes://${target.context ?? ""}/${target.namespace ?? ""}`;
}
