import type { Server } from "node:http";
import type { Registry } from "prom-client";
import { InvalidArgumentError } from "../errors.ts";

/** `host:port`, `:port` or `port` (host 127.0.0.1); `[::1]:port` for IPv6. */
export function parseListenAddress(address: string): { host: string; port: number } {
  const match = /^(?:(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]*):)?(\d{1,5})$/.exec(address);
  const port = Number(match?.[2]);
  if (!match || port > 65535) {
    throw new InvalidArgumentError(`${JSON.stringify(address)} is not an address like 127.0.0.1:9464 or :9464`);
  }
  const host = match[1] ? match[1].replace(/^\[|\]$/g, "") : "127.0.0.1";
  return { host, port };
}

/** Serves the registry at /metrics, in Prometheus's text format, until closed. */
export async function serveMetrics(
  registry: Registry,
  address: string,
): Promise<{ url: string; close: () => Promise<void> }> {
  const { host, port } = parseListenAddress(address);
  // Loaded here, not at import: every run of the CLI imports this module, few serve anything.
  const { createServer } = await import("node:http");
  const server: Server = createServer((request, response) => {
    if (request.method !== "GET" || request.url?.split("?")[0] !== "/metrics") {
      response.writeHead(404).end("not found: metrics are at /metrics\n");
      return;
    }
    registry.metrics().then(
      (text) => {
        response.writeHead(200, { "content-type": registry.contentType }).end(text);
      },
      (error: unknown) => {
        response.writeHead(500).end(`${error instanceof Error ? error.message : String(error)}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  const bound = server.address();
  const boundPort = typeof bound === "object" && bound ? bound.port : port;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${String(boundPort)}/metrics`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  };
}
