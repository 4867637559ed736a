import type { Server } from "node:http";
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

/**
 * Starts a server on an address; gives its base URL (with the port the
 * system picked, for port 0) and a close that ends open connections too.
 */
export async function listen(
  server: Server,
  address: { host: string; port: number },
  scheme: "http" | "https" = "http",
): Promise<{ base: string; close: () => Promise<void> }> {
  const { host, port } = address;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  const bound = server.address();
  const boundPort = typeof bound === "object" && bound ? bound.port : port;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  return {
    base: `${scheme}://${shownHost}:${String(boundPort)}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    },
  };
}
