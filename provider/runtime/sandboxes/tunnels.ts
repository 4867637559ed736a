import type { Duplex } from "node:stream";
import { listenLoopback, type LoopbackListener } from "../../engines/loopback.ts";
import type { ContainerInfo, Engine } from "../../engines/port.ts";

/** A port of a sandbox reachable from this host: where to connect to reach it. */
export interface Tunnel {
  containerPort: number;
  host: "127.0.0.1";
  hostPort: number;
  url: string;
}

/** The TCP ports a sandbox serves: its declared ones, else (an engine that tells no more) those published. */
export function servedPorts(container: ContainerInfo): number[] {
  return [...(container.servedPorts ?? Object.keys(container.ports).map(Number))].sort((a, b) => a - b);
}

/** How often a sandbox with open tunnels is looked at, to close them once it has ended. */
export const TUNNEL_WATCH_MS = 1_000;

interface OpenTunnels {
  listeners: Map<number, LoopbackListener>;
  connections: Set<Duplex>;
  timer: ReturnType<typeof setInterval>;
}

const tunnelOf = (containerPort: number, hostPort: number): Tunnel => ({
  containerPort,
  host: "127.0.0.1",
  hostPort,
  url: `http://127.0.0.1:${String(hostPort)}`,
});

/**
 * A client's tunnels. On an engine that publishes ports on this host itself
 * (Docker), a tunnel is that published port, the engine's for as long as the
 * sandbox runs. Elsewhere (Kubernetes) it is a listener of this process on
 * 127.0.0.1, one per port the sandbox serves, made at the first ask and the
 * same for every later one, carrying each connection over the engine's
 * stream to the port: it closes, with its connections, once the sandbox has
 * ended (looked at every TUNNEL_WATCH_MS, and whenever a connection finds it
 * gone), when the sandbox is ended through this client, or with the process.
 * Listeners never keep the process running; open connections do.
 */
export class TunnelListeners {
  readonly #engine: Engine;
  readonly #open = new Map<string, Promise<OpenTunnels>>();

  constructor(engine: Engine) {
    this.#engine = engine;
  }

  /** The sandbox's tunnels; none once it has ended. */
  async list(container: ContainerInfo): Promise<Tunnel[]> {
    const { capabilities } = await this.#engine.info();
    if (capabilities.hostPorts.supported)
      return Object.entries(container.ports).map(([port, hostPort]) => tunnelOf(Number(port), hostPort));
    if (!container.running) {
      await this.close(container.id);
      return [];
    }
    const ports = servedPorts(container);
    if (ports.length === 0) return [];
    let opening = this.#open.get(container.id);
    if (!opening) {
      opening = this.#listen(container.id, ports);
      this.#open.set(container.id, opening);
      opening.catch(() => this.#open.delete(container.id));
    }
    const open = await opening;
    return [...open.listeners].map(([port, listener]) => tunnelOf(port, listener.port));
  }

  /** Closes the sandbox's listeners and their connections (none is fine). */
  async close(id: string): Promise<void> {
    const opening = this.#open.get(id);
    if (!opening) return;
    this.#open.delete(id);
    const open = await opening.catch(() => undefined);
    if (!open) return;
    clearInterval(open.timer);
    for (const connection of open.connections) connection.destroy();
    await Promise.all([...open.listeners.values()].map((listener) => listener.close()));
  }

  async #listen(id: string, ports: readonly number[]): Promise<OpenTunnels> {
    const connections = new Set<Duplex>();
    const listeners = new Map<number, LoopbackListener>();
    const watch = async () => {
      const container = await this.#engine.containers.inspect(id).catch(() => null);
      // An engine that does not answer for a moment ends nothing; a sandbox gone or stopped does.
      if (container === undefined || container?.running === false) await this.close(id);
    };
    try {
      for (const port of ports) {
        const listener = await listenLoopback((client) => {
          connections.add(client);
          client.once("close", () => connections.delete(client));
          this.#carry(id, port, client, watch);
        });
        listeners.set(port, listener);
      }
    } catch (error) {
      await Promise.all([...listeners.values()].map((listener) => listener.close()));
      throw error;
    }
    const timer = setInterval(() => void watch(), TUNNEL_WATCH_MS);
    timer.unref();
    return { listeners, connections, timer };
  }

  /** One local connection, carried both ways over a stream the engine opens to the sandbox's port. */
  #carry(id: string, port: number, client: Duplex, watch: () => Promise<void>): void {
    client.on("error", () => client.destroy());
    client.pause();
    this.#engine.containers.connect(id, port).then(
      (stream) => {
        if (client.destroyed) {
          stream.destroy();
          return;
        }
        stream.on("error", () => client.destroy());
        // An end from the sandbox's side reaches the client through the pipe, its last bytes first.
        stream.on("close", () => {
          if (!stream.readableEnded) client.destroy();
        });
        client.on("close", () => stream.destroy());
        stream.pipe(client);
        client.pipe(stream);
        client.resume();
      },
      () => {
        client.destroy();
        // Refused: the sandbox may have ended, and its listeners then go now rather than at the next look.
        void watch();
      },
    );
  }
}
