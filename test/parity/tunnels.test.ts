// A sandbox's port reached from this host, on every backend: through
// tunnels() (Docker: the engine's published port; Kubernetes: a listener of
// this process through the API server's port-forward) and through a connect
// token at the gateway, HTTP and WebSocket alike; and the tunnel's end with
// its sandbox's.
import { readFileSync } from "node:fs";
import type { Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandfleet } from "../../provider/client/sandfleet.ts";
import type { Sandbox } from "../../provider/client/sandbox.ts";
import { createAppNetwork } from "../../provider/runtime/networks/apps.ts";
import { serveGateway } from "../../provider/serve/gateway.ts";
import { BACKENDS, cleanupBackend } from "../support/backends.ts";
import { uniqueApp } from "../support/engine.ts";
import { answersAt, exchangeText, fetchLoopback, openStream, upgradeLoopback } from "../support/loopback-http.ts";
import { until } from "../support/until.ts";

const APP = readFileSync(new URL("../fixtures/scripts/gateway_app.py", import.meta.url), "utf8");

describe.each(BACKENDS)("on $name", ({ name, target, engine }) => {
  const app = uniqueApp(`tunnel-${name.slice(0, 4)}`);
  const sandfleet = new Sandfleet(target);
  let gateway: Awaited<ReturnType<typeof serveGateway>>;

  /** A sandbox serving gateway_app.py on port 8000, ready. */
  const web = async (label: string): Promise<Sandbox> => {
    const sandbox = await sandfleet.sandboxes.create({
      app,
      name: label,
      image: "sandfleet/python",
      // Pod Security "restricted" on a cluster wants a numeric uid that is not root.
      user: "1000:1000",
      network: "app",
      ports: [8000],
      command: ["python3", "-c", APP, label],
      readiness: { tcpPort: 8000, intervalMs: 50 },
      memoryMiB: 64,
      timeoutMs: 600_000,
    });
    await sandbox.waitUntilReady();
    return sandbox;
  };

  beforeAll(async () => {
    await createAppNetwork(engine, app, false);
    gateway = await serveGateway(sandfleet, { address: "127.0.0.1:0" });
  });
  afterAll(async () => {
    await (gateway as typeof gateway | undefined)?.close();
    await cleanupBackend(engine, app);
  });

  it("reaches a sandbox's HTTP port through tunnels() and through a connect token at the gateway, WebSockets included", async () => {
    const sandbox = await web("served");
    const tunnels = await sandbox.tunnels();
    expect(tunnels).toHaveLength(1);
    const [tunnel] = tunnels;
    expect(tunnel).toMatchObject({ containerPort: 8000, host: "127.0.0.1" });
    expect(tunnel?.url).toBe(`http://127.0.0.1:${String(tunnel?.hostPort)}`);
    expect(await (await fetch(`${tunnel?.url ?? ""}/whoami`)).text()).toBe("served");
    // The same listener on every ask, and many connections at once through it.
    expect(await sandbox.tunnels()).toEqual(tunnels);
    const many = await Promise.all(
      Array.from({ length: 8 }, async () => (await fetch(`${tunnel?.url ?? ""}/whoami`)).text()),
    );
    expect(many).toEqual(Array.from({ length: 8 }, () => "served"));

    // The token's origin at the gateway: HTTP, a request body, and a WebSocket both ways.
    const token = await sandbox.createConnectToken({ ttlMs: 60_000, gatewayUrl: gateway.url });
    expect(token.port).toBe(8000);
    const origin = new URL(token.url).origin;
    const bearer = { authorization: `Bearer ${token.token}` };
    expect((await fetchLoopback(`${origin}/whoami`, { headers: bearer })).body).toBe("served");
    const posted = await fetchLoopback(`${origin}/echo`, {
      method: "POST",
      body: "x".repeat(100_000),
      headers: { ...bearer, origin },
    });
    expect(posted.body).toMatch(/^name=served method=POST path=\/echo cookie=- authorization=- /);
    const socket = await upgradeLoopback(`${origin}/socket`, { headers: { ...bearer, origin } });
    expect(socket.status).toBe(101);
    expect(await exchangeText(socket.socket as Socket, "hello")).toBe("served: hello");
    expect(await exchangeText(socket.socket as Socket, "again")).toBe("served: again");
    socket.socket?.destroy();

    // A WebSocket through the tunnel itself, with no gateway.
    const direct = await upgradeLoopback(`${tunnel?.url ?? ""}/socket`);
    expect(direct.status).toBe(101);
    expect(await exchangeText(direct.socket as Socket, "plain")).toBe("served: plain");
    direct.socket?.destroy();
  });

  it("cuts a WebSocket through the gateway once its token is revoked", async () => {
    const sandbox = await web("revoked");
    const token = await sandbox.createConnectToken({ ttlMs: 60_000, gatewayUrl: gateway.url });
    const origin = new URL(token.url).origin;
    const socket = await upgradeLoopback(`${origin}/socket`, {
      headers: { authorization: `Bearer ${token.token}`, origin },
    });
    expect(socket.status).toBe(101);
    const open = socket.socket as Socket;
    expect(await exchangeText(open, "before")).toBe("revoked: before");
    let closed = false;
    open.once("close", () => (closed = true));
    expect(await sandfleet.revokeConnectToken(token.token)).toBe(true);
    await until("the WebSocket's cut", async () => closed, 5_000);
    expect(
      (await fetchLoopback(`${origin}/whoami`, { headers: { authorization: `Bearer ${token.token}` } })).status,
    ).toBe(403);
  });

  it("closes the tunnel, and the connections through it, when the sandbox ends elsewhere", async () => {
    const sandbox = await web("ending");
    const [tunnel] = await sandbox.tunnels();
    const hostPort = tunnel?.hostPort ?? 0;
    expect(await answersAt("127.0.0.1", hostPort, "/whoami")).toBe(true);
    const stream = await openStream(`${tunnel?.url ?? ""}/stream`);
    expect(stream.status).toBe(200);
    await until("the stream's first lines", async () => stream.received().length > 0);

    // Ended by another client, as a timeout or `sandfleet terminate` elsewhere ends it.
    await (await new Sandfleet(target).sandboxes.fromId(sandbox.id)).terminate();
    await until("the open stream's end", async () => stream.ended(), 20_000);
    await until("the tunnel's port refusing", async () => !(await answersAt("127.0.0.1", hostPort, "/whoami")), 20_000);
    expect(await sandbox.tunnels()).toEqual([]);
    // A token for an ended sandbox is refused before any is made.
    await expect(sandbox.createConnectToken({ gatewayUrl: gateway.url })).rejects.toThrow(/not running/);
  });

  it("closes the tunnel at once when the sandbox is terminated through its own handle", async () => {
    const sandbox = await web("terminated");
    const [tunnel] = await sandbox.tunnels();
    expect(await answersAt("127.0.0.1", tunnel?.hostPort ?? 0, "/whoami")).toBe(true);
    await sandbox.terminate();
    expect(await answersAt("127.0.0.1", tunnel?.hostPort ?? 0, "/whoami")).toBe(false);
    expect(await sandbox.tunnels()).toEqual([]);
  });
});
