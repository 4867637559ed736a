import { readFileSync } from "node:fs";
import type { Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandfleet } from "../../provider/client/sandfleet.ts";
import type { Sandbox } from "../../provider/client/sandbox.ts";
import { serveGateway } from "../../provider/serve/gateway.ts";
import { sandfleet as cli } from "../support/cli.ts";
import { cleanupApp, docker, uniqueApp } from "../support/engine.ts";
import { exchangeText, fetchLoopback, upgradeLoopback } from "../support/loopback-http.ts";
import { until } from "../support/until.ts";

const ECHO = readFileSync(new URL("../fixtures/scripts/ws_echo.py", import.meta.url), "utf8");

describe("connect tokens and the gateway", () => {
  const app = uniqueApp("gateway");
  const sandfleet = new Sandfleet({ docker });
  let gateway: Awaited<ReturnType<typeof serveGateway>>;
  let a: Sandbox;
  let b: Sandbox;

  const web = async (name: string) => {
    const sandbox = await sandfleet.sandboxes.create({
      app,
      name,
      image: "sandfleet/python",
      network: "app",
      ports: [8000],
      command: ["python3", "-c", ECHO],
      readiness: { tcpPort: 8000, intervalMs: 50 },
      timeoutMs: 600_000,
    });
    await sandbox.waitUntilReady();
    return sandbox;
  };

  beforeAll(async () => {
    await sandfleet.apps.lookup(app, { createIfMissing: true });
    [a, b] = await Promise.all([web("a"), web("b")]);
    gateway = await serveGateway(sandfleet, { address: "127.0.0.1:0" });
  });
  afterAll(async () => {
    await gateway.close();
    await cleanupApp(app);
  });

  /** The sandbox's answer names its host (the container's short id) and what reached it. */
  const hostOf = (s: Sandbox) => s.id.slice(0, 12);

  /** The origin of a sandbox's port 8000 under the gateway: a host name of its own. */
  const originOf = async (s: Sandbox) =>
    new URL((await s.createConnectToken({ port: 8000, ttlMs: 60_000, gatewayUrl: gateway.url })).url).origin;

  it("admits a valid token from the URL, moves it into a cookie, and forwards to that sandbox's port", async () => {
    const { url, token, expiresAt } = await a.createConnectToken({
      port: 8000,
      ttlMs: 60_000,
      gatewayUrl: gateway.url,
    });
    // The port's own origin: a host name under the gateway's, the same for every token of that port.
    const origin = new URL(url).origin;
    expect(origin).toMatch(new RegExp(`^http://[0-9a-f]{16}-8000\\.localhost:${new URL(gateway.url).port}$`));
    expect(origin).toBe(await originOf(a));
    expect(origin).not.toBe(await originOf(b));
    expect(url).toBe(`${origin}/?sandfleet_token=${token}`);
    expect(Date.parse(expiresAt) - Date.now()).toBeGreaterThan(50_000);
    // A browser opening the URL, as its navigations say (fetch cannot set this header)...
    const first = await fetchLoopback(url, { headers: { "sec-fetch-mode": "navigate" } });
    expect(first.status).toBe(303);
    expect(first.headers.location).toBe(`${origin}/`);
    const setCookie = first.headers["set-cookie"]?.[0] ?? "";
    expect(setCookie).toMatch(/^sandfleet_connect=sfc_\w+; HttpOnly; SameSite=Lax; Path=\/; Max-Age=\d+$/);
    const cookie = setCookie.split(";")[0] ?? "";
    expect(cookie).toBe(`sandfleet_connect=${token}`);
    const page = await fetchLoopback(`${origin}/some/path?q=1`, { headers: { cookie } });
    expect(page.status).toBe(200);
    // The gateway's own credential never reaches the sandbox.
    expect(page.body).toBe(`host=${hostOf(a)} path=/some/path?q=1 cookie=- authorization=-\n`);
    // ...and a script, served at once, the token left out of what the sandbox sees.
    const direct = await fetchLoopback(`${origin}/api?x=1&sandfleet_token=${token}`);
    expect(direct.body).toBe(`host=${hostOf(a)} path=/api?x=1 cookie=- authorization=-\n`);
  });

  it("admits a bearer token on its own origin only, whatever else the request names", async () => {
    const { token, url } = await b.createConnectToken({ port: 8000, ttlMs: 60_000, gatewayUrl: gateway.url });
    const page = await fetchLoopback(`${new URL(url).origin}/`, {
      headers: { authorization: `Bearer ${token}`, "x-forwarded-host": hostOf(a) },
    });
    expect(page.body).toBe(`host=${hostOf(b)} path=/ cookie=- authorization=-\n`);
    const elsewhere = await fetchLoopback(`${await originOf(a)}/`, { headers: { authorization: `Bearer ${token}` } });
    expect(elsewhere.status).toBe(421);
  });

  it("refuses no token, a forged one, an expired one, a revoked one", async () => {
    const origin = await originOf(a);
    const status = async (headers: Record<string, string> = {}) =>
      (await fetchLoopback(`${origin}/`, { headers })).status;
    expect(await status()).toBe(401);
    const { token } = await a.createConnectToken({ port: 8000, ttlMs: 60_000 });
    const forged = `${token.slice(0, -4)}0000`;
    expect(await status({ authorization: `Bearer ${forged}` })).toBe(403);
    expect(await status({ authorization: "Bearer sfc_not-a-token" })).toBe(403);

    const short = await a.createConnectToken({ port: 8000, ttlMs: 1000 });
    expect(await status({ authorization: `Bearer ${short.token}` })).toBe(200);
    await until("the short token to expire", () => Promise.resolve(Date.now() >= Date.parse(short.expiresAt)), 5000);
    const expired = await fetchLoopback(`${origin}/`, { headers: { authorization: `Bearer ${short.token}` } });
    expect(expired.status).toBe(403);
    expect(expired.body).toContain("expired token");

    expect(await status({ authorization: `Bearer ${token}` })).toBe(200);
    expect(await sandfleet.revokeConnectToken(token)).toBe(true);
    // A verdict is reused for at most half a second; a request admitted meanwhile may be cut instead.
    await until(
      "the revoked token to be refused",
      async () => (await status({ authorization: `Bearer ${token}` }).catch(() => 0)) === 403,
      5000,
    );
  });

  it("refuses a token for a port the sandbox does not publish", async () => {
    await expect(a.createConnectToken({ port: 9000, ttlMs: 60_000 })).rejects.toThrow(
      /port 9000 is not published by the sandbox \(published: 8000\)/,
    );
  });

  it("defaults as Modal does: the only published port, for an hour", async () => {
    const before = Date.now();
    const token = await a.createConnectToken();
    expect(token.port).toBe(8000);
    const lifetime = Date.parse(token.expiresAt) - before;
    expect(lifetime).toBeGreaterThan(59 * 60 * 1000);
    expect(lifetime).toBeLessThanOrEqual(60 * 60 * 1000 + 5000);
  });

  it("passes a WebSocket through, and refuses one without a token", async () => {
    const { token, url } = await a.createConnectToken({ port: 8000, ttlMs: 60_000, gatewayUrl: gateway.url });
    const origin = new URL(url).origin;
    const ws = await upgradeLoopback(`${origin}/socket?sandfleet_token=${token}`);
    expect(ws.status).toBe(101);
    expect(await exchangeText(ws.socket as Socket, "hello through the gateway")).toBe(
      "echo: hello through the gateway",
    );
    ws.socket?.destroy();

    const refused = await upgradeLoopback(`${origin}/socket`);
    expect(refused.status).toBe(401);
  });

  it("resumes a paused sandbox for a request", async () => {
    const { token, url } = await a.createConnectToken({ port: 8000, ttlMs: 60_000, gatewayUrl: gateway.url });
    await a.pause();
    const page = await fetchLoopback(`${new URL(url).origin}/`, { headers: { authorization: `Bearer ${token}` } });
    expect(page.status).toBe(200);
    expect((await a.state()).status).toBe("running");
  });

  it("sandfleet url prints a working URL, and --revoke ends it", async () => {
    const made = await cli(["url", `${app}/a`, "8000", "--ttl", "1h", "--gateway", gateway.url, "--json"]);
    expect(made.code, made.stderr).toBe(0);
    const { url, token } = JSON.parse(made.stdout) as { url: string; token: string };
    expect((await fetchLoopback(url)).status).toBe(200);
    const revoked = await cli(["url", "--revoke", token]);
    expect(revoked.code, revoked.stderr).toBe(0);
    await until(
      "the revoked URL to be refused",
      async () => (await fetchLoopback(url).catch(() => undefined))?.status === 403,
      5000,
    );
  });
});
