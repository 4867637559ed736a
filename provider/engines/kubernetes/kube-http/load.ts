/**
 * Which kubeconfig a target's engine uses, and the gate on it: a kubeconfig
 * named by the target (one a pull request may have added) is read through
 * kubeconfig.ts's check, and what was checked is what is used; its plugins
 * run, and its files of this machine are read, only with
 * allowExecCredentials. The default ones ($KUBECONFIG, ~/.kube/config, else
 * the pod's service account) are this machine's own, as kubectl trusts them.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { parse } from "yaml";
import { InvalidArgumentError } from "../../../errors.ts";
import { loadedUsersProblem, readKubeconfig } from "../kubeconfig.ts";
import type { KubernetesTarget } from "../target.ts";
import {
  type ConnectionConfig,
  connectionConfig,
  inClusterConfig,
  type KubeconfigSource,
} from "./connection-config.ts";

export function loadConnection(target: KubernetesTarget): ConnectionConfig {
  const named = target.kubeconfig;
  if (named === undefined) {
    const files = defaultKubeconfigFiles();
    if (files.length === 0) {
      const inCluster = inClusterConfig();
      if (inCluster) return inCluster;
      throw new InvalidArgumentError(
        "no kubeconfig: set KUBECONFIG, write ~/.kube/config, or name one with the kubernetes target's kubeconfig",
      );
    }
    return connectionConfig(files.map(trustedSource), target.context);
  }
  if (target.allowExecCredentials === true) return connectionConfig([trustedSource(named)], target.context);
  const refuse = (reason: string): never => {
    throw new InvalidArgumentError(`kubeconfig ${named} ${reason}`);
  };
  const read = readKubeconfig(named);
  if ("problem" in read) return refuse(read.problem);
  const config = connectionConfig([{ document: read.document, folder: dirname(named), name: named }], target.context);
  // The check refused plugins and token files already; what is about to be used is held to it once more.
  const { user } = config;
  const problem =
    loadedUsersProblem([{ name: user.name, exec: user.exec, token: user.token }], read.document) ??
    (user.tokenFile ? `user ${JSON.stringify(user.name)} reads a token-file of this machine` : undefined);
  if (problem) refuse(problem);
  return config;
}

/** $KUBECONFIG's files (those there, as kubectl skips the others), else ~/.kube/config if there. */
export function defaultKubeconfigFiles(): string[] {
  const listed = (process.env.KUBECONFIG ?? "").split(delimiter).filter((file) => file !== "");
  if (listed.length > 0) return listed.filter((file) => existsSync(file));
  const home = join(homedir(), ".kube", "config");
  return existsSync(home) ? [home] : [];
}

/** A kubeconfig this machine trusts, read as it is. */
function trustedSource(path: string): KubeconfigSource {
  let document: unknown;
  try {
    document = parse(readFileSync(path, "utf8"));
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message.split("\n")[0] : "");
    throw new InvalidArgumentError(`kubeconfig ${path} cannot be read (${why ?? String(error)})`);
  }
  return { document, folder: dirname(path), name: path };
}
