import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { sha256 } from "../../../digest.ts";
import type { RequestIdentity } from "./credentials.ts";

/** How many pools (one per server and TLS identity) are kept; a plugin's rotated certificate makes another. */
const MAX_POOLS = 4;

/**
 * One kept-alive pool of connections per server and TLS identity: a call
 * costs a request, not a TLS handshake, and fifty claimers at once share a
 * few connections. An idle connection does not keep the process alive (node
 * unrefs a pool's free sockets), so a CLI call ends when its work does.
 */
export function agentPool(server: string): (tls: RequestIdentity["tls"]) => HttpAgent {
  const pools = new Map<string, HttpAgent>();
  const plain = server.startsWith("http://");
  return (tls) => {
    const key = plain ? "" : identityKey(tls);
    let agent = pools.get(key);
    if (!agent) {
      agent = plain ? new HttpAgent({ keepAlive: true }) : new HttpsAgent({ keepAlive: true, ...tls });
      pools.set(key, agent);
      // The oldest pool goes: its idle connections close, those in use finish their request.
      if (pools.size > MAX_POOLS) {
        const [oldest] = pools;
        if (oldest) {
          pools.delete(oldest[0]);
          for (const sockets of Object.values(oldest[1].freeSockets)) for (const s of sockets ?? []) s.destroy();
        }
      }
    }
    return agent;
  };
}

function identityKey(tls: RequestIdentity["tls"]): string {
  const digest = sha256();
  for (const [key, value] of Object.entries(tls)) {
    digest.update(`\0${key}\0`);
    digest.update(Buffer.isBuffer(value) ? value : String(value));
  }
  return digest.digest("hex");
}
