import { connect, createServer } from "node:net";
import type { Duplex } from "node:stream";

// This host's loopback address, which tunnels are on: a connection to one of
// its ports (a port the Docker engine published), and a listener on one (a
// tunnel of this process's own, on an engine that publishes none here).

/** A TCP connection to a port of 127.0.0.1, once it is open. */
export function connectLoopback(port: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

export interface LoopbackListener {
  /** The port the system gave it. */
  readonly port: number;
  /** Stops listening; connections already accepted are the caller's to end. */
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1 only (never another address of this host) on a port
 * the system picks, and hands each connection to `serve`. It never keeps the
 * process running by itself.
 */
export function listenLoopback(serve: (connection: Duplex) => void): Promise<LoopbackListener> {
  const server = createServer(serve);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0 }, () => {
      server.off("error", reject);
      server.unref();
      const address = server.address();
      resolve({
        port: typeof address === "object" && address ? address.port : 0,
        close: () =>
          new Promise((closed) => {
            server.close(() => {
              closed();
            });
          }),
      });
    });
  });
}
