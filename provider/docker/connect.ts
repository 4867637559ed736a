import { readFileSync } from "node:fs";
import { join } from "node:path";
import Docker from "dockerode";
import { InvalidArgumentError } from "../errors.ts";

/**
 * Builds dockerode options from a DOCKER_HOST-style URL: unix:///path,
 * tcp://host:port (TLS when DOCKER_TLS_VERIFY=1 or port 2376, certificates
 * from DOCKER_CERT_PATH) or ssh://user@host. Without a host, DOCKER_HOST from
 * the environment, else the local socket.
 */
export function dockerOptions(host: string | undefined = process.env.DOCKER_HOST): Docker.DockerOptions {
  if (!host) return { socketPath: "/var/run/docker.sock" };
  if (host.startsWith("unix://")) return { socketPath: host.slice("unix://".length) || "/var/run/docker.sock" };
  let url: URL;
  try {
    url = new URL(host.includes("://") ? host : `tcp://${host}`);
  } catch {
    throw new InvalidArgumentError(
      `docker host ${JSON.stringify(host)} is not a URL like unix:///var/run/docker.sock, tcp://host:2376 or ssh://user@host`,
    );
  }
  if (url.protocol === "ssh:") {
    return {
      protocol: "ssh",
      host: url.hostname,
      port: url.port || 22,
      username: url.username || undefined,
      sshOptions: { agent: process.env.SSH_AUTH_SOCK },
    };
  }
  if (url.protocol !== "tcp:" && url.protocol !== "http:" && url.protocol !== "https:") {
    throw new InvalidArgumentError(`docker host ${JSON.stringify(host)}: unsupported scheme ${url.protocol}`);
  }
  const tls = url.protocol === "https:" || process.env.DOCKER_TLS_VERIFY === "1" || url.port === "2376";
  const certPath = process.env.DOCKER_CERT_PATH;
  return {
    protocol: tls ? "https" : "http",
    host: url.hostname,
    port: url.port || (tls ? 2376 : 2375),
    ...(tls && certPath
      ? {
          ca: readFileSync(join(certPath, "ca.pem")),
          cert: readFileSync(join(certPath, "cert.pem")),
          key: readFileSync(join(certPath, "key.pem")),
        }
      : {}),
  };
}
