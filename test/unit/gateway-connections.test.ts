import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { OpenConnections, SWEEP_INTERVAL_MS } from "../../provider/serve/gateway-connections.ts";

/** Enough of a socket for the tracker: it can be destroyed, and says when it closes. */
function fakeSocket(): Socket {
  const socket = new EventEmitter() as EventEmitter & { destroyed: boolean; destroy: () => void };
  socket.destroyed = false;
  socket.destroy = () => {
    socket.destroyed = true;
    socket.emit("close");
  };
  return socket as unknown as Socket;
}

describe("the gateway's open connections", () => {
  const revoked = new Set<string>();
  let connections: OpenConnections;
  beforeEach(() => {
    vi.useFakeTimers();
    revoked.clear();
    connections = new OpenConnections((tokens) => Promise.resolve(new Set(tokens.filter((t) => revoked.has(t)))));
  });
  afterEach(() => {
    connections.close();
    vi.useRealTimers();
  });
  const sweep = () => vi.advanceTimersByTimeAsync(SWEEP_INTERVAL_MS + 1);

  it("cuts a connection whose token is revoked, busy or idle, and leaves the others", async () => {
    const far = Date.now() + 60_000;
    const [busy, idle, other] = [fakeSocket(), fakeSocket(), fakeSocket()];
    connections.hold("t1", far, busy);
    connections.hold("t1", far, idle)();
    connections.hold("t2", far, other);
    await sweep();
    expect([busy.destroyed, idle.destroyed, other.destroyed]).toEqual([false, false, false]);
    revoked.add("t1");
    await sweep();
    expect([busy.destroyed, idle.destroyed, other.destroyed]).toEqual([true, true, false]);
  });

  it("cuts a connection at its token's expiry without asking the engine", async () => {
    const socket = fakeSocket();
    connections.hold("t1", Date.now() + 1000, socket);
    await vi.advanceTimersByTimeAsync(750);
    expect(socket.destroyed).toBe(false);
    await vi.advanceTimersByTimeAsync(500);
    expect(socket.destroyed).toBe(true);
  });

  it("keys an idle keep-alive socket to the token of its next request; a request in progress keeps its own", async () => {
    const far = Date.now() + 60_000;
    const reused = fakeSocket();
    connections.hold("old", far, reused)();
    connections.hold("new", far, reused);
    revoked.add("old");
    await sweep();
    expect(reused.destroyed).toBe(false);

    const pipelined = fakeSocket();
    connections.hold("streaming", far, pipelined); // not released: its answer still flows
    connections.hold("next", far, pipelined);
    revoked.add("streaming");
    await sweep();
    expect(pipelined.destroyed).toBe(true);
  });
});
