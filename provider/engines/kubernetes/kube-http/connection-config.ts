/**
 * A kubeconfig (one or several files merged, or the pod's own service
 * account) reduced to what one connection needs: the server, how its
 * certificate is checked, who signs in, and the namespace. The files' checks
 * are kubeconfig.ts's; this only reads what they let through.
 */
import { existsSync, readFileSync } from "node:fs";
import { isIPv6 } from "node:net";
import { isAbsolute, join } from "node:path";
import { InvalidArgumentError } from "../../../errors.ts";

/** An exec credential plugin as a kubeconfig names it. */
export interface ExecPlugin {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: readonly { name: string; value: string }[];
  readonly apiVersion: string;
}

/** The cluster's side: where it is and how its certificate is checked. */
export interface ClusterSide {
  readonly server: string;
  readonly caData?: Buffer;
  readonly caFile?: string;
  readonly insecure: boolean;
  readonly serverName?: string;
}

/** Who signs in: each field as the kubeconfig gave it (files are read for every request). */
export interface UserSide {
  readonly name: string;
  readonly token?: string;
  readonly tokenFile?: string;
  readonly username?: string;
  readonly password?: string;
  readonly certData?: Buffer;
  readonly certFile?: string;
  readonly keyData?: Buffer;
  readonly keyFile?: string;
  readonly exec?: ExecPlugin;
}

export interface ConnectionConfig {
  readonly cluster: ClusterSide;
  readonly user: UserSide;
  readonly context: string;
  readonly namespace?: string;
}

/** One kubeconfig document and the folder its relative paths are read from. */
export interface KubeconfigSource {
  readonly document: unknown;
  readonly folder: string;
  /** How it is named in messages: its path. */
  readonly name: string;
}

type Entry = { name: string; value: Record<string, unknown>; folder: string };

const SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * The connection of `context` (default the current one) in the sources,
 * merged as kubectl merges them: the first source to name a cluster, user,
 * context or current-context wins.
 */
export function connectionConfig(sources: readonly KubeconfigSource[], context?: string): ConnectionConfig {
  const clusters = new Map<string, Entry>();
  const users = new Map<string, Entry>();
  const contexts = new Map<string, Entry>();
  let current: string | undefined;
  for (const source of sources) {
    const document = isMap(source.document) ? source.document : {};
    collect(clusters, document.clusters, "cluster", source.folder);
    collect(users, document.users, "user", source.folder);
    collect(contexts, document.contexts, "context", source.folder);
    const named = document["current-context"];
    if (current === undefined && typeof named === "string" && named !== "") current = named;
  }
  const where = sources.map((s) => s.name).join(", ") || "no kubeconfig";
  const chosen = context ?? current;
  if (chosen === undefined) throw new InvalidArgumentError(`kubeconfig ${where}: no current-context, and none chosen`);
  const found = contexts.get(chosen)?.value;
  if (!found) throw new InvalidArgumentError(`kubeconfig ${where}: no context named ${JSON.stringify(chosen)}`);
  const clusterName = text(found.cluster);
  const cluster = clusters.get(clusterName);
  if (!cluster)
    throw new InvalidArgumentError(
      `kubeconfig ${where}: context ${JSON.stringify(chosen)} names cluster ${JSON.stringify(clusterName)}, which it does not have`,
    );
  const userName = text(found.user);
  const user = users.get(userName);
  // A context without a user signs in as nobody (a server that allows anonymous reads).
  return {
    cluster: clusterSide(cluster, where),
    user: user ? userSide(user, where) : { name: userName },
    context: chosen,
    ...(text(found.namespace) ? { namespace: text(found.namespace) } : {}),
  };
}

/** A pod's own service account, when this process runs in a cluster; else undefined. */
export function inClusterConfig(): ConnectionConfig | undefined {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT;
  if (!host || !port || !existsSync(join(SERVICE_ACCOUNT, "token"))) return undefined;
  const namespaceFile = join(SERVICE_ACCOUNT, "namespace");
  const namespace = existsSync(namespaceFile) ? readFileSync(namespaceFile, "utf8").trim() : "";
  return {
    cluster: {
      server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}`,
      caFile: join(SERVICE_ACCOUNT, "ca.crt"),
      insecure: false,
    },
    // The kubelet rotates the token in place: it is read again for each request.
    user: { name: "in-cluster", tokenFile: join(SERVICE_ACCOUNT, "token") },
    context: "in-cluster",
    ...(namespace ? { namespace } : {}),
  };
}

function collect(into: Map<string, Entry>, list: unknown, key: string, folder: string): void {
  for (const entry of Array.isArray(list) ? (list as unknown[]) : []) {
    if (!isMap(entry) || typeof entry.name !== "string" || into.has(entry.name)) continue;
    into.set(entry.name, { name: entry.name, value: isMap(entry[key]) ? entry[key] : {}, folder });
  }
}

/**
 * Why a kubeconfig's cluster cannot be reached as written, or undefined: the
 * one rule for the loader and for the check `validate` runs on a named file.
 */
export function clusterProblem(value: Record<string, unknown>): string | undefined {
  const server = text(value.server);
  if (!/^https?:\/\/[^/]/.test(server))
    return `has server ${JSON.stringify(server)}; it must be an https:// (or http://) address`;
  if (value["proxy-url"] !== undefined)
    return "names a proxy-url, which sandfleet does not use; reach the server directly";
  return undefined;
}

function clusterSide({ name, value, folder }: Entry, where: string): ClusterSide {
  const problem = clusterProblem(value);
  if (problem) throw new InvalidArgumentError(`kubeconfig ${where}: cluster ${JSON.stringify(name)} ${problem}`);
  const server = text(value.server);
  return {
    server: server.replace(/\/+$/, ""),
    ...data("caData", value["certificate-authority-data"]),
    ...file("caFile", value["certificate-authority"], folder),
    insecure: value["insecure-skip-tls-verify"] === true,
    ...(text(value["tls-server-name"]) ? { serverName: text(value["tls-server-name"]) } : {}),
  };
}

function userSide({ name, value, folder }: Entry, where: string): UserSide {
  if (value["auth-provider"] !== undefined)
    throw new InvalidArgumentError(
      `kubeconfig ${where}: user ${JSON.stringify(name)} uses an auth-provider, which kubectl itself no longer runs; use an exec credential plugin`,
    );
  const tokenFile = value.tokenFile ?? value["token-file"];
  return {
    name,
    ...(text(value.token) ? { token: text(value.token) } : {}),
    ...file("tokenFile", tokenFile, folder),
    ...(text(value.username) ? { username: text(value.username), password: text(value.password) } : {}),
    ...data("certData", value["client-certificate-data"]),
    ...file("certFile", value["client-certificate"], folder),
    ...data("keyData", value["client-key-data"]),
    ...file("keyFile", value["client-key"], folder),
    ...(isMap(value.exec) ? { exec: execPlugin(value.exec, folder, name, where) } : {}),
  };
}

function execPlugin(exec: Record<string, unknown>, folder: string, user: string, where: string): ExecPlugin {
  const command = text(exec.command);
  if (!command)
    throw new InvalidArgumentError(`kubeconfig ${where}: user ${JSON.stringify(user)}'s exec names no command`);
  return {
    // As kubectl does: a command with a slash in it is a path from the kubeconfig's folder; a bare name is looked up in PATH.
    command: command.includes("/") && !isAbsolute(command) ? join(folder, command) : command,
    args: Array.isArray(exec.args) ? exec.args.map(String) : [],
    env: (Array.isArray(exec.env) ? (exec.env as unknown[]) : []).filter(isMap).map((e) => ({
      name: text(e.name),
      value: text(e.value),
    })),
    apiVersion: text(exec.apiVersion) || "client.authentication.k8s.io/v1",
  };
}

const text = (value: unknown): string => (typeof value === "string" ? value : "");

function data<K extends string>(key: K, value: unknown): Partial<Record<K, Buffer>> {
  return typeof value === "string" && value !== ""
    ? ({ [key]: Buffer.from(value, "base64") } as Record<K, Buffer>)
    : {};
}

function file<K extends string>(key: K, value: unknown, folder: string): Partial<Record<K, string>> {
  if (typeof value !== "string" || value === "") return {};
  return { [key]: isAbsolute(value) ? value : join(folder, value) } as Record<K, string>;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
