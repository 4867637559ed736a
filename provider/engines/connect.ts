import { connectDocker } from "./docker/client.ts";
import { dockerHostProblem } from "../addresses.ts";
import { InvalidArgumentError } from "../errors.ts";
import { connectKubernetes, type KubernetesEngineOptions } from "./kubernetes/client.ts";
import { kubernetesTargetProblems } from "./kubernetes/target.ts";
import type { Engine } from "./port.ts";

/** Where an app's sandboxes run: a Docker engine (the default), or a Kubernetes cluster. */
export interface EngineTarget {
  /** A Docker engine, in DOCKER_HOST forms; default DOCKER_HOST, else the local socket. */
  dockerHost?: string | undefined;
  /** A Kubernetes cluster: its kubeconfig context, namespace and registry. */
  kubernetes?: KubernetesEngineOptions | undefined;
}

// One engine per cluster target in a process: its kubeconfig is read and its images pushed once.
const clusters = new Map<string, Engine>();

/**
 * The cluster the environment names, as DOCKER_HOST names a Docker engine:
 * SANDFLEET_KUBERNETES=context/namespace (either part may be empty, for the
 * kubeconfig's), with SANDFLEET_REGISTRY the registry its nodes pull from.
 */
export function kubernetesFromEnvironment(env: NodeJS.ProcessEnv = process.env): KubernetesEngineOptions | undefined {
  const named = env.SANDFLEET_KUBERNETES;
  if (named === undefined || named === "") return undefined;
  const [context = "", namespace = ""] = named.split("/");
  return {
    ...(context ? { context } : {}),
    ...(namespace ? { namespace } : {}),
    ...(env.SANDFLEET_REGISTRY ? { registry: env.SANDFLEET_REGISTRY } : {}),
  };
}

/**
 * The engine of a target: its cluster, else its Docker host, else the
 * cluster SANDFLEET_KUBERNETES names, else DOCKER_HOST or the local engine.
 * Cheap: nothing is sent before the first call.
 */
export function connectEngine(target: EngineTarget = {}): Engine {
  // A host given here may come from sandfleet.yaml: held to its rule (DOCKER_HOST is the operator's own).
  const badHost = target.dockerHost ? dockerHostProblem(target.dockerHost) : undefined;
  if (badHost) throw new InvalidArgumentError(`docker host ${JSON.stringify(target.dockerHost)} ${badHost}`);
  const kubernetes = target.kubernetes ?? (target.dockerHost ? undefined : kubernetesFromEnvironment());
  if (!kubernetes) return connectDocker(target.dockerHost);
  // Every door to a cluster comes through here: the same checks as the spec's `kubernetes:` block.
  const problems = kubernetesTargetProblems(kubernetes);
  if (problems.length > 0) {
    const told = problems.map((p) => `kubernetes${p.property ? `.${p.property}` : ""} ${p.reason}`);
    throw new InvalidArgumentError(`invalid cluster target: ${told.join("; ")}`);
  }
  const options = { ...kubernetes, ...(target.dockerHost ? { dockerHost: target.dockerHost } : {}) };
  const key = JSON.stringify(options);
  let engine = clusters.get(key);
  if (!engine) {
    engine = connectKubernetes(options);
    clusters.set(key, engine);
  }
  return engine;
}

export type { KubernetesEngineOptions };
