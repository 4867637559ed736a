import { readFileSync } from "node:fs";
import { get, type IncomingMessage } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandfleet } from "../../provider/client/sandfleet.ts";
import type { Sandbox } from "../../provider/runtime/sandbox.ts";
import { serveGateway } from "../../provider/serve/gateway.ts";
import { sandfleet as cli } from "../support/cli.ts";
import { cleanupApp, docker, uniqueApp } from "../support/engine.ts";
import { sleep } from "../support/until.ts";

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

  it("admits a valid token from the URL, moves it into a cookie, and forwards to that sandbox's port", async () => {
    const { url, token, expiresAt } = await a.createConnectToken({
      port: 8000,
      ttlMs: 60_000,
      gatewayUrl: gateway.url,
    });
    expect(url).toBe(`${gateway.url}/?sandfleet_token=${token}`);
    expect(Date.parse(expiresAt) - Date.now()).toBeGreaterThan(50_000);
    // A browser opening the URL, as its navigations say (fetch cannot set this header)...
    const first = await new Promise<IncomingMessage>((resolve, reject) => {
      get(url, { headers: { "sec-fetch-mode": "navigate" } }, (res) => {
        res.resume();
        resolve(res);
      }).on("error", reject);
    });
    expect(first.statusCode).toBe(303);
    expect(first.headers.location).toBe("/");
    const cookie = (first.headers["set-cookie"]?.[0] ?? "").split(";")[0] ?? "";
    expect(cookie).toBe(`sandfleet_connect=${token}`);
    const page = await fetch(`${gateway.url}/some/path?q=1`, { headers: { cookie } });
    expect(page.status).toBe(200);
    // The gateway's own credential never reaches the sandbox.
    expect(await page.text()).toBe(`host=${hostOf(a)} path=/some/path?q=1 cookie=- authorization=-\n`);
    // ...and a script, served at once, the token left out of what the sandbox sees.
    const direct = await fetch(`${gateway.url}/api?x=1&sandfleet_token=${token}`);
    expect(await direct.text()).toBe(`host=${hostOf(a)} path=/api?x=1 cookie=- authorization=-\n`);
  });

  it("admits a bearer token, and a token opens its own sandbox whatever the request names", async () => {
    const { token } = await b.createConnectToken({ port: 8000, ttlMs: 60_000 });
    const page = await fetch(`${gateway.url}/`, {
      headers: { authorization: `Bearer ${token}`, "x-forwarded-host": hostOf(a) },
    });
    expect(await page.text()).toBe(`host=${hostOf(b)} path=/ cookie=- authorization=-\n`);
  });

  it("refuses no token, a forged one, an expired one, a revoked one", async () => {
    const status = async (headers: Record<string, string> = {}) => (await fetch(`${gateway.url}/`, { headers })).status;
    expect(await status()).toBe(401);
    const { token } = await a.createConnectToken({ port: 8000, ttlMs: 60_000 });
    const forged = `${token.slice(0, -4)}0000`;
    expect(await status({ authorization: `Bearer ${forged}` })).toBe(403);
    expect(await status({ authorization: "Bearer sfc_not-a-token" })).toBe(403);

    const short = await a.createConnectToken({ port: 8000, ttlMs: 1000 });
    expect(await status({ authorization: `Bearer ${short.token}` })).toBe(200);
    await sleep(1200);
    const expired = await fetch(`${gateway.url}/`, { headers: { authorization: `Bearer ${short.token}` } });
    expect(expired.status).toBe(403);
    expect(await expired.text()).toContain("expired token");

    expect(await status({ authorization: `Bearer ${token}` })).toBe(200);
    expect(await sandfleet.revokeConnectToken(token)).toBe(true);
    await sleep(1100); // a verdict is reused for at most a second
    expect(await status({ authorization: `Bearer ${token}` })).toBe(403);
  });

  it("refuses a token for a port the sandbox does not publish", async () => {
    await expect(a.createConnectToken({ port: 9000, ttlMs: 60_000 })).rejects.toThrow(
      /port 9000 is not published by the sandbox \(published: 8000\)/,
    );
  });

  it("passes a WebSocket through, and refuses one without a token", async () => {
    const { token } = await a.createConnectToken({ port: 8000, ttlMs: 60_000 });
    const ws = new WebSocket(`${gateway.url.replace("http", "ws")}/socket?sandfleet_token=${token}`);
    const reply = await new Promise<string>((resolve, reject) => {
      ws.onopen = () => {
        ws.send("hello through the gateway");
      };
      ws.onmessage = (event: MessageEvent) => {
        resolve(String(event.data));
      };
      ws.onerror = () => {
        reject(new Error("the WebSocket failed"));
      };
    });
    ws.close();
    expect(reply).toBe("echo: hello through the gateway");

    const refused = new WebSocket(`${gateway.url.replace("http", "ws")}/socket`);
    const outcome = await new Promise<string>((resolve) => {
      refused.onopen = () => {
        resolve("open");
      };
      refused.onerror = () => {
        resolve("refused");
      };
    });
    expect(outcome).toBe("refused");
  });

  it("resumes a paused sandbox for a request", async () => {
    const { token } = await a.createConnectToken({ port: 8000, ttlMs: 60_000 });
    await a.pause();
    const page = await fetch(`${gateway.url}/`, { headers: { authorization: `Bearer ${token}` } });
    expect(page.status).toBe(200);
    expect((await a.state()).status).toBe("running");
  });

  it("sandfleet url prints a working URL, and --revoke ends it", async () => {
    const made = await cli(["url", `${app}/a`, "8000", "--ttl", "1h", "--gateway", gateway.url, "--json"]);
    expect(made.code, made.stderr).toBe(0);
    const { url, token } = JSON.parse(made.stdout) as { url: string; token: string };
    expect((await fetch(url)).status).toBe(200);
    const revoked = await cli(["url", "--revoke", token]);
    expect(revoked.code, revoked.stderr).toBe(0);
    await sleep(1100);
    expect((await fetch(url, { redirect: "manual" })).status).toBe(403);
  });
});
