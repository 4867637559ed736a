// Where a cluster is, in words any user's program can type-check: nothing here
// names @kubernetes/client-node, whose types need others (ws) a user may not have.
import { registryProblem } from "../../addresses.ts";
import { booleanProblem, quoted, ruleProblem, VOLUME_MIB } from "../../rules.ts";

/** Where a Kubernetes engine is: a kubeconfig context, a namespace, and the registry its nodes pull from. */
export interface KubernetesTarget {
  /** A context of the kubeconfig; default its current context. */
  context?: string;
  /** The namespace sandfleet works in; default the context's, else "default". */
  namespace?: string;
  /**
   * A kubeconfig file; default KUBECONFIG, else ~/.kube/config. A file named
   * here whose users run a credential plugin (`exec` or `auth-provider`) is
   * refused unless `allowExecCredentials` is true: such a plugin is a command
   * that runs on this machine.
   */
  kubeconfig?: string;
  /** Lets the users of the kubeconfig named by `kubeconfig` run credential plugins. Default false. */
  allowExecCredentials?: boolean;
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

const KUBE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const KUBE_DNS_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const QUANTITY = /^([0-9]+)(Ki|Mi|Gi|Ti)$/;
const QUANTITY_MIB = { Ki: 1 / 1024, Mi: 1, Gi: 1024, Ti: 1024 * 1024 } as const;

/**
 * Problems of a cluster target, by field (`registry`, `volumeSize`, ...;
 * "" for the target itself). The spec's checks ask here for its
 * `kubernetes:` block and the API for its `kubernetes` option: the same
 * words, which for a value the schema's pattern refuses are the pattern's.
 */
export function kubernetesTargetProblems(value: unknown): { property: string; reason: string }[] {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return [{ property: "", reason: "must be a map" }];
  const target = value as Record<string, unknown>;
  const problems: { property: string; reason: string }[] = [];
  const problem = (property: string, reason: string | undefined) => {
    if (reason) problems.push({ property, reason });
  };
  for (const key of ["context", "kubeconfig"] as const) {
    const field = target[key];
    if (field !== undefined) problem(key, field === "" ? "must not be empty" : ruleProblem("line", field));
  }
  const named = (key: string, pattern: RegExp, max: number, words: string) => {
    const field = target[key];
    if (field === undefined) return;
    if (typeof field !== "string") problem(key, "must be a string");
    else if (field.length > max)
      problem(key, `must be at most ${String(max)} characters (has ${String(field.length)})`);
    else if (!pattern.test(field)) problem(key, words);
  };
  named("namespace", KUBE_NAME, 63, "must be a Kubernetes name: lowercase letters, digits and -, like sandboxes");
  named("storageClass", KUBE_DNS_NAME, 253, "must be a Kubernetes name: lowercase letters, digits, - and .");
  if (target.registry !== undefined) problem("registry", registryProblem(target.registry));
  if (target.volumeSize !== undefined) problem("volumeSize", volumeSizeProblem(target.volumeSize));
  if (target.allowExecCredentials !== undefined)
    problem("allowExecCredentials", booleanProblem(target.allowExecCredentials));
  if (target.dockerHost !== undefined) problem("dockerHost", ruleProblem("line", target.dockerHost));
  return problems;
}

/** A volume's claim: a Kubernetes quantity in Ki, Mi, Gi or Ti, from 1Mi to 64Ti (0Gi claims nothing). */
function volumeSizeProblem(value: unknown): string | undefined {
  const match = typeof value === "string" ? QUANTITY.exec(value) : null;
  if (!match)
    return typeof value === "string" ? "must be a size like 10Gi or 512Mi" : `must be a string, not ${quoted(value)}`;
  const mib = Number(match[1]) * QUANTITY_MIB[match[2] as keyof typeof QUANTITY_MIB];
  return mib >= VOLUME_MIB.min && mib <= VOLUME_MIB.max ? undefined : `must be from 1Mi to 64Ti (is ${match[0]})`;
}
