import { readFileSync } from "node:fs";
import { join } from "node:path";
import { InvalidArgumentError } from "../../errors.ts";

/** Where an engine listens, as read from a DOCKER_HOST-style URL. */
export type EngineAddress =
  | { kind: "unix"; socketPath: string }
  | { kind: "tcp"; host: string; port: number; tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer } }
  | { kind: "ssh"; destination: string; port?: number };

const DEFAULT_SOCKET = "/var/run/docker.sock";

/**
 * Reads a DOCKER_HOST-style URL: unix:///path, tcp://host:port (TLS when
 * DOCKER_TLS_VERIFY=1 or port 2376, certificates from DOCKER_CERT_PATH) or
 * ssh://user@host[:port]. Without a host, DOCKER_HOST from the environment,
 * else the local socket.
 */
export function engineAddress(host: string | undefined = process.env.DOCKER_HOST): EngineAddress {
  if (!host) return { kind: "unix", socketPath: DEFAULT_SOCKET };
  if (host.startsWith("unix://")) return { kind: "unix", socketPath: host.slice("unix://".length) || DEFAULT_SOCKET };
  let url: URL;
  try {
    url = new URL(host.includes("://") ? host : `tcp://${host}`);
  } catch {
    throw new InvalidArgumentError(
      `docker host ${JSON.stringify(host)} is not a URL like unix:///var/run/docker.sock, tcp://host:2376 or ssh://user@host`,
    );
  }
  if (url.protocol === "ssh:") {
    if (!url.hostname) throw new InvalidArgumentError(`docker host ${JSON.stringify(host)} names no host`);
    const user = url.username ? `${decodeURIComponent(url.username)}@` : "";
    return { kind: "ssh", destination: `${user}${url.hostname}`, ...(url.port ? { port: Number(url.port) } : {}) };
  }
  if (url.protocol !== "tcp:" && url.protocol !== "http:" && url.protocol !== "https:") {
    throw new InvalidArgumentError(`docker host ${JSON.stringify(host)}: unsupported scheme ${url.protocol}`);
  }
  const tls = url.protocol === "https:" || process.env.DOCKER_TLS_VERIFY === "1" || url.port === "2376";
  const certPath = process.env.DOCKER_CERT_PATH;
  return {
    kind: "tcp",
    host: url.hostname,
    port: Number(url.port) || (tls ? 2376 : 2375),
    ...(tls
      ? {
          tls: certPath
            ? {
                ca: readFileSync(join(certPath, "ca.pem")),
                cert: readFileSync(join(certPath, "cert.pem")),
                key: readFileSync(join(certPath, "key.pem")),
              }
            : {},
        }
      : {}),
  };
}
