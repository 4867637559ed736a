import type { Server } from "node:http";
import type { Registry } from "prom-client";
import { listen, parseListenAddress } from "./listen.ts";

/** Serves the registry at /metrics, in Prometheus's text format, until closed. */
export async function serveMetrics(
  registry: Registry,
  address: string,
): Promise<{ url: string; close: () => Promise<void> }> {
  // Loaded here, not at import: every run of the CLI imports this module, few serve anything.
  const { createServer } = await import("node:http");
  const server: Server = createServer((request, response) => {
    // What a liveness probe asks: that the process answers, without the engine reads a scrape makes.
    if (request.method === "GET" && request.url?.split("?")[0] === "/healthz") {
      response.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      return;
    }
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
  const served = await listen(server, parseListenAddress(address));
  return { url: `${served.base}/metrics`, close: served.close };
}
