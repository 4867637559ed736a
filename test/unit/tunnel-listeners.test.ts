// Tunnels of an engine that publishes no port on this host: listeners of
// this process, over the engine's stream to the sandbox's port (here an
// in-process echo), closed when the sandbox ends. The real port-forward is
// in test/parity/tunnels.test.ts.
import { connect } from "node:net";
import { Duplex } from "node:stream";
import { describe, expect, it } from "vitest";
import type { ContainerInfo, Engine } from "../../provider/engines/port.ts";
import { servedPortProblem } from "../../provider/engines/served-port.ts";
import { forwardRefusal } from "../../provider/engines/kubernetes/port-forward.ts";
import { TunnelListeners, servedPorts } from "../../provider/runtime/sandboxes/tunnels.ts";
import { until } from "../support/until.ts";

/** A stream that answers each chunk with `port:` and the chunk, as a sandbox's echo server would. */
function echo(port: number): Duplex {
  const stream: Duplex = new Duplex({
    read() {
      // Answers are pushed as chunks come.
    },
    write(chunk: Buffer, _encoding, done) {
      stream.push(`${String(port)}:${chunk.toString()}`);
      done();
    },
  });
  return stream;
}

function fakeEngine(state: { running: boolean; opened: number[] }): Engine {
  const container = (): ContainerInfo =>
    ({
      id: "sf-0123456789ab",
      running: state.running,
      ports: {},
      servedPorts: [9000, 8000],
    }) as unknown as ContainerInfo;
  return {
    info: async () => ({ capabilities: { hostPorts: { supported: false, why: "none here" } } }),
    containers: {
      inspect: async () => container(),
      connect: async (_id: string, port: number) => {
        if (!state.running) throw new Error("not running");
        state.opened.push(port);
        return echo(port);
      },
    },
  } as unknown as Engine;
}

/** What one connection to 127.0.0.1:port answers to `text`, or undefined when it is refused or cut. */
function ask(port: number, text: string, host = "127.0.0.1"): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once("connect", () => {
      socket.write(text);
    });
    socket.once("data", (data) => {
      socket.destroy();
      resolve(data.toString());
    });
    socket.once("error", () => {
      resolve(undefined);
    });
    socket.once("close", () => {
      resolve(undefined);
    });
  });
}

describe("tunnels on an engine that publishes no port here", () => {
  it("listens on 127.0.0.1 for each served port, the same listeners on every ask, carrying each connection to its port", async () => {
    const state = { running: true, opened: [] as number[] };
    const engine = fakeEngine(state);
    const tunnels = new TunnelListeners(engine);
    const container = (await engine.containers.inspect("sf-0123456789ab")) as ContainerInfo;
    const first = await tunnels.list(container);
    expect(first.map((t) => t.containerPort)).toEqual([8000, 9000]);
    for (const tunnel of first) {
      expect(tunnel.host).toBe("127.0.0.1");
      expect(tunnel.url).toBe(`http://127.0.0.1:${String(tunnel.hostPort)}`);
    }
    expect(await tunnels.list(container)).toEqual(first);
    expect(await ask(first[0]?.hostPort ?? 0, "hello")).toBe("8000:hello");
    expect(await ask(first[1]?.hostPort ?? 0, "there")).toBe("9000:there");
    expect(await ask(first[0]?.hostPort ?? 0, "x", "127.0.0.2")).toBeUndefined();
    expect(state.opened).toEqual([8000, 9000]);
    await tunnels.close(container.id);
  });

  it("closes the listeners once the sandbox has ended, and lists none for an ended one", async () => {
    const state = { running: true, opened: [] as number[] };
    const engine = fakeEngine(state);
    const tunnels = new TunnelListeners(engine);
    const container = (await engine.containers.inspect("sf-0123456789ab")) as ContainerInfo;
    const [tunnel] = await tunnels.list(container);
    expect(await ask(tunnel?.hostPort ?? 0, "up")).toBe("8000:up");
    state.running = false;
    await until("the listener's close", async () => (await ask(tunnel?.hostPort ?? 0, "down")) === undefined, 5_000);
    expect(await tunnels.list({ ...container, running: false })).toEqual([]);
  });

  it("takes the ports a sandbox declares, else those the engine published", () => {
    const info = (fields: Partial<ContainerInfo>) => ({ ports: {}, ...fields }) as ContainerInfo;
    expect(servedPorts(info({ servedPorts: [9000, 80] }))).toEqual([80, 9000]);
    expect(servedPorts(info({ ports: { 8000: 32768 } }))).toEqual([8000]);
  });
});

describe("what a forward may reach", () => {
  it("is a TCP port the sandbox declares, and nothing else", () => {
    expect(servedPortProblem("sf-1", 8000, [8000])).toBeUndefined();
    expect(servedPortProblem("sf-1", 9090, [8000])).toBe(
      "port 9090 is not one that sandbox sf-1 serves (its ports: 8000)",
    );
    expect(servedPortProblem("sf-1", 9090, [])).toMatch(/its ports: none/);
    for (const port of [0, -1, 65_536, 8000.5, Number.NaN, Infinity])
      expect(servedPortProblem("sf-1", port, [8000]), String(port)).toMatch(/is not a TCP port/);
  });

  it("tells why the cluster could not forward without its node's paths or ids", () => {
    const said =
      'error forwarding port 8000 to pod 95ab, uid : failed to execute portforward in network namespace "/var/lib/x/netns/cni-1": failed to connect to localhost:8000 inside namespace "95ab", IPv4: dial tcp4 127.0.0.1:8000: connect: connection refused';
    expect(forwardRefusal("sf-0123456789ab", 8000, said)).toBe(
      "nothing listens on port 8000 of sandbox pod sf-0123456789ab (connection refused)",
    );
    expect(forwardRefusal("sf-0123456789ab", 8000, "something else /var/lib/x")).not.toContain("/var/lib");
  });
});
