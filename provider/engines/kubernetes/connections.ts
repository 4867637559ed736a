import type { RequestOptions } from "node:https";
import type * as k8s from "@kubernetes/client-node";
import { sha256 } from "../../digest.ts";

type RequestContext = Parameters<k8s.KubeConfig["applySecurityAuthentication"]>[0];
type Dispatcher = Parameters<RequestContext["setDispatcher"]>[0];

/** How many connection pools (one per server and TLS identity) are kept; an exec plugin's rotated certificate makes another. */
const MAX_POOLS = 4;

/**
 * @kubernetes/client-node makes a new HTTP dispatcher for every API call,
 * so every call opens a new TLS connection (and reads the client certificate
 * and key from disk again): on an API server that is busy, the handshake is
 * most of what a call costs, and 50 claimers at once make 50 handshakes a
 * claim's worth of calls. This gives the typed API clients of `config` one
 * kept-alive pool of connections per server and TLS identity. Everything
 * else is the library's own: its headers (a token, an exec plugin's
 * credential, basic auth) are taken afresh for every call, as before.
 */
export function keepConnections(config: k8s.KubeConfig): void {
  const pools = new Map<string, Dispatcher | undefined>();
  // The library's own maker of dispatchers (proxies, SOCKS, TLS): private in its types, not in its code.
  const internals = config as unknown as {
    createDispatcher(cluster: k8s.Cluster | null, options: Record<string, unknown>): Dispatcher | undefined;
  };
  config.applySecurityAuthentication = async (context: RequestContext) => {
    const options: RequestOptions = {};
    await config.applyToHTTPSOptions(options);
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      if (value !== undefined) context.setHeaderParam(name, String(value));
    }
    if (options.auth) context.setHeaderParam("Authorization", `Basic ${Buffer.from(options.auth).toString("base64")}`);
    const cluster = config.getCurrentCluster();
    const tls: Record<string, unknown> = {};
    for (const key of ["ca", "cert", "key", "pfx", "passphrase", "rejectUnauthorized", "servername"] as const) {
      if (options[key] !== undefined) tls[key] = options[key];
    }
    const identity = poolKey(cluster, tls);
    let dispatcher = pools.get(identity);
    if (!pools.has(identity)) {
      dispatcher = internals.createDispatcher(cluster, tls);
      pools.set(identity, dispatcher);
      // The oldest pool goes; its idle connections end with their keep-alive.
      if (pools.size > MAX_POOLS) pools.delete(pools.keys().next().value ?? "");
    }
    if (dispatcher) context.setDispatcher(dispatcher);
  };
}

function poolKey(cluster: k8s.Cluster | null, tls: Record<string, unknown>): string {
  const digest = sha256();
  digest.update(JSON.stringify([cluster?.server ?? "", cluster?.proxyUrl ?? ""]));
  for (const [key, value] of Object.entries(tls)) {
    digest.update(`\0${key}\0`);
    const parts = Array.isArray(value) ? (value as unknown[]) : [value];
    for (const part of parts) digest.update(Buffer.isBuffer(part) ? part : String(part));
  }
  return digest.digest("hex");
}
