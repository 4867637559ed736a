import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Socket } from "node:net";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandfleet } from "../../provider/client/sandfleet.ts";
import type { Sandbox } from "../../provider/client/sandbox.ts";
import { serveGateway } from "../../provider/serve/gateway.ts";
import { launchBrowser, visit } from "../support/browser.ts";
import { cleanupApp, docker, uniqueApp } from "../support/engine.ts";
import { exchangeText, fetchLoopback, openStream, upgradeLoopback } from "../support/loopback-http.ts";
import { until } from "../support/until.ts";

/** A port free on 127.0.0.1 now: a gateway whose public URL must name its port before it listens. */
async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  return typeof address === "object" && address ? address.port : 0;
}

// Attacker 3: a web page in the operator's browser, and a sandbox's app answering through the gateway.
const APP = readFileSync(new URL("../fixtures/scripts/gateway_app.py", import.meta.url), "utf8");

/** What a sandbox's app may set through the gateway of everything /set-cookies offers: its own two, host-only. */
const ALLOWED_COOKIES = ["app_cookie=A; Path=/", "app_wide=A; Path=/"];

/** What a script in the page reaches (the tests' TypeScript has no DOM types). */
interface PageGlobals {
  document: { cookie: string };
}

/** How long a connection may outlive its token, as the README promises (a sweep of 250 ms and one listing of the engine: measured 0.1–0.2 s). */
const CUT_DEADLINE_MS = 1000;

describe("the gateway against pages of other origins and sandboxes' apps", () => {
  const app = uniqueApp("gwsec");
  const sandfleet = new Sandfleet({ docker });
  let gateway: Awaited<ReturnType<typeof serveGateway>>;
  let browser: Browser;
  let a: Sandbox;
  let b: Sandbox;

  const web = async (name: string) => {
    const sandbox = await sandfleet.sandboxes.create({
      app,
      name,
      image: "sandfleet/python",
      network: "app",
      ports: [8000],
      command: ["python3", "-c", APP, name],
      readiness: { tcpPort: 8000, intervalMs: 50 },
      timeoutMs: 600_000,
    });
    await sandbox.waitUntilReady();
    return sandbox;
  };
  /** A token's URL, and the origin (scheme, host, port) it opens. */
  const share = async (sandbox: Sandbox, ttlMs = 60_000, gatewayUrl = gateway.url) => {
    const made = await sandbox.createConnectToken({ port: 8000, ttlMs, gatewayUrl });
    return { ...made, origin: new URL(made.url).origin };
  };

  beforeAll(async () => {
    await sandfleet.apps.lookup(app, { createIfMissing: true });
    [a, b] = await Promise.all([web("A"), web("B")]);
    gateway = await serveGateway(sandfleet, { address: "127.0.0.1:0" });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    // Either may be missing when the setup failed half way.
    await (browser as Browser | undefined)?.close();
    await (gateway as typeof gateway | undefined)?.close();
    await cleanupApp(app);
  });

  it("keeps each sandbox port's cookies, pages and responses in an origin of its own, in Chromium", async () => {
    const [ta, tb] = await Promise.all([share(a), share(b)]);
    expect(ta.origin).not.toBe(tb.origin);
    const context = await browser.newContext();
    try {
      const pageA = await context.newPage();
      await visit(pageA, ta.url);
      expect(pageA.url()).toBe(`${ta.origin}/`);
      expect(await pageA.locator("h1").textContent()).toBe("A");

      // The browser opens B: B's app sets cookies (the gateway's names among them, some with a wide Domain),
      // and B's script sets one of its own and tries the parent domain.
      const pageB = await context.newPage();
      await visit(pageB, tb.url);
      await visit(pageB, `${tb.origin}/set-cookies`);
      await pageB.evaluate(() => {
        const page = globalThis as unknown as PageGlobals;
        page.document.cookie = "b_script=1; Path=/";
        page.document.cookie = "b_tossed=1; Domain=localhost; Path=/";
      });
      const seenByB = await pageB.evaluate(() => (globalThis as unknown as PageGlobals).document.cookie);
      expect(seenByB).toContain("app_cookie=B");
      expect(seenByB).not.toMatch(/sandfleet/i);

      // A's page sees none of B's cookies, nor the token, in its document or in what its app receives.
      const seenByA = await pageA.evaluate(() => (globalThis as unknown as PageGlobals).document.cookie);
      expect(seenByA).not.toMatch(/b_|app_|sandfleet/i);
      const echoA = await pageA.evaluate(() => fetch("/echo").then((r) => r.text()));
      expect(echoA).toMatch(/^name=A /);
      expect(echoA).toContain("cookie=- ");

      // A's page polling its own URL still reads A's answers after the browser opened B.
      expect(await pageA.evaluate(() => fetch("/whoami").then((r) => r.text()))).toBe("A");

      // A's page cannot read B's answers, although B's app allows any origin with credentials,
      // nor post to B, nor open a WebSocket to B.
      const readB = await pageA.evaluate(async (originB) => {
        try {
          const answer = await fetch(`${originB}/echo`, { credentials: "include" });
          return `${String(answer.status)} ${await answer.text()}`;
        } catch {
          return "blocked";
        }
      }, tb.origin);
      expect(readB).not.toContain("name=B");
      const postB = await pageA.evaluate(async (originB) => {
        try {
          const answer = await fetch(`${originB}/echo`, { method: "POST", credentials: "include", body: "x" });
          return `${String(answer.status)} ${await answer.text()}`;
        } catch {
          return "blocked";
        }
      }, tb.origin);
      expect(postB).not.toContain("name=B");
      const socketB = await pageA.evaluate(
        (url) =>
          new Promise<string>((resolve) => {
            const ws = new WebSocket(url);
            ws.onopen = () => {
              resolve("open");
            };
            ws.onerror = () => {
              resolve("refused");
            };
          }),
        `${tb.origin.replace("http", "ws")}/socket`,
      );
      expect(socketB).toBe("refused");
      // ...while A's own WebSocket works.
      const socketA = await pageA.evaluate(
        (url) =>
          new Promise<string>((resolve) => {
            const ws = new WebSocket(url);
            ws.onopen = () => {
              ws.send("hi");
            };
            ws.onmessage = (event: MessageEvent) => {
              resolve(String(event.data));
            };
            ws.onerror = () => {
              resolve("refused");
            };
          }),
        `${ta.origin.replace("http", "ws")}/socket`,
      );
      expect(socketA).toBe("A: hi");
    } finally {
      await context.close();
    }
  });

  it("keeps ports apart where their host names share a site (a deployment's own domain), in Chromium", async () => {
    // Under example.com, the ports' host names are one site: the browser sends B's Lax cookie with
    // requests A's page makes to B, so only the gateway's checks stand between them.
    const domain = "sandboxes.example.com";
    const port = await freePort();
    const deployed = await serveGateway(sandfleet, {
      address: `127.0.0.1:${String(port)}`,
      url: `http://${domain}:${String(port)}`,
    });
    // Chromium sends the domain to this machine alone.
    const siteBrowser = await launchBrowser([`--host-resolver-rules=MAP *.${domain} 127.0.0.1`]);
    try {
      const [ta, tb] = await Promise.all([share(a, 60_000, deployed.url), share(b, 60_000, deployed.url)]);
      expect(new URL(ta.origin).hostname.endsWith(`.${domain}`)).toBe(true);
      const context = await siteBrowser.newContext();
      const pageA = await context.newPage();
      await visit(pageA, ta.url);
      const pageB = await context.newPage();
      await visit(pageB, tb.url);
      // B's script plants B's token for the whole domain, on a longer path that the browser sends first.
      await pageB.evaluate(
        ([token, parent]) => {
          (globalThis as unknown as PageGlobals).document.cookie =
            `sandfleet_connect=${token}; Domain=${parent}; Path=/whoami`;
        },
        [tb.token, domain],
      );
      expect(await pageA.evaluate(() => fetch("/whoami").then((r) => r.text()))).toBe("A");
      expect(await pageA.evaluate(() => fetch("/echo").then((r) => r.text()))).not.toContain("sfc_");

      // A's page reads B's answers with B's cookie, B's app allowing any origin with credentials: refused.
      const readB = await pageA.evaluate(async (originB) => {
        try {
          const answer = await fetch(`${originB}/echo`, { credentials: "include" });
          return `${String(answer.status)} ${await answer.text()}`;
        } catch {
          return "blocked";
        }
      }, tb.origin);
      expect(readB).toBe("blocked");
      // ...while B's own page still reads its own.
      expect(await pageB.evaluate(() => fetch("/whoami").then((r) => r.text()))).toBe("B");
      await context.close();
    } finally {
      await siteBrowser.close();
      await deployed.close();
    }
  });

  it("refuses WebSocket upgrades and state-changing requests from other origins, and other hosts", async () => {
    const [ta, tb] = await Promise.all([share(a), share(b)]);
    const cookie = `sandfleet_connect=${ta.token}`;
    const socketUrl = `${ta.origin}/socket`;
    for (const origin of ["http://evil.example", tb.origin, "null", ta.origin.replace("http:", "https:")]) {
      const refused = await upgradeLoopback(socketUrl, { headers: { cookie, origin } });
      expect(refused.status, origin).toBe(403);
      // A token in the URL is no way around it.
      const inUrl = await upgradeLoopback(`${socketUrl}?sandfleet_token=${ta.token}`, { headers: { origin } });
      expect(inUrl.status, origin).toBe(403);
    }
    const own = await upgradeLoopback(socketUrl, { headers: { cookie, origin: ta.origin } });
    expect(own.status).toBe(101);
    expect(await exchangeText(own.socket as Socket, "hello")).toBe("A: hello");
    own.socket?.destroy();

    const post = (headers: Record<string, string>) =>
      fetchLoopback(`${ta.origin}/echo`, { method: "POST", body: "x", headers });
    expect((await post({ cookie, origin: tb.origin })).status).toBe(403);
    expect((await post({ authorization: `Bearer ${ta.token}`, origin: "http://evil.example" })).status).toBe(403);
    expect((await post({ cookie, origin: ta.origin })).body).toMatch(/^name=A method=POST/);
    // A script of another origin riding on the cookie, even a simple GET.
    const read = await fetchLoopback(`${ta.origin}/echo`, {
      headers: { cookie, "sec-fetch-site": "same-site", "sec-fetch-mode": "cors", origin: tb.origin },
    });
    expect(read.status).toBe(403);
    const included = await fetchLoopback(`${ta.origin}/whoami`, {
      headers: { cookie, "sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors" },
    });
    expect(included.status).toBe(403);

    // The redirect that moves a token into the cookie stays on the port's own origin, whatever the path.
    for (const path of ["/.//evil.example/", "//evil.example/x"]) {
      const moved = await fetchLoopback(`${ta.origin}${path}?sandfleet_token=${ta.token}`, {
        headers: { "sec-fetch-mode": "navigate" },
      });
      expect(moved.status, path).toBe(303);
      expect(new URL(moved.headers.location ?? "", ta.origin).origin, path).toBe(ta.origin);
    }

    // A's token on B's host, a rebound name, the bare gateway: each refused, whatever the token.
    const port = new URL(gateway.url).port;
    for (const host of [new URL(tb.origin).host, `evil.example:${port}`, `127.0.0.1:${port}`, `localhost:${port}`]) {
      const answer = await fetchLoopback(`http://127.0.0.1:${port}/whoami`, {
        headers: { host, authorization: `Bearer ${ta.token}` },
      });
      expect(answer.status, host).toBe(421);
    }
  });

  it("lets no sandbox set, overwrite or shadow the gateway's cookies, nor read its token", async () => {
    const ta = await share(a);
    const bearer = { authorization: `Bearer ${ta.token}` };
    const offered = await fetchLoopback(`${ta.origin}/set-cookies`, { headers: bearer });
    expect(offered.status).toBe(200);
    expect(offered.headers["set-cookie"]).toEqual(ALLOWED_COOKIES);
    // ...in a WebSocket's handshake too.
    const upgraded = await upgradeLoopback(`${ta.origin}/socket`, { headers: bearer });
    expect(upgraded.status).toBe(101);
    expect(upgraded.headers["set-cookie"]).toEqual(ALLOWED_COOKIES);
    upgraded.socket?.destroy();

    // The token, under any spelling of the gateway's names, never reaches the app.
    const cookie = [
      `sandfleet_connect=${ta.token}`,
      `__Host-sandfleet_connect=${ta.token}`,
      `SANDFLEET_CONNECT=${ta.token}`,
      "keep=1",
    ].join("; ");
    const echoed = await fetchLoopback(`${ta.origin}/echo`, { headers: { cookie } });
    expect(echoed.status).toBe(200);
    expect(echoed.body).toMatch(/ cookie=keep=1 authorization=- /);
    expect(echoed.body).not.toContain(ta.token);
  });

  /** A WebSocket, a streaming answer and an idle keep-alive connection, all admitted by one token. */
  const openAll = async (token: { origin: string; token: string }) => {
    const headers = { cookie: `sandfleet_connect=${token.token}` };
    const ws = await upgradeLoopback(`${token.origin}/socket`, { headers: { ...headers, origin: token.origin } });
    expect(ws.status).toBe(101);
    const socket = ws.socket as Socket;
    expect(await exchangeText(socket, "ping")).toMatch(/: ping$/);
    const stream = await openStream(`${token.origin}/stream`, { headers });
    expect(stream.status).toBe(200);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    let idle: Socket | undefined;
    agent.on("free", (s: Socket) => (idle = s));
    expect((await fetchLoopback(`${token.origin}/whoami`, { headers, agent })).status).toBe(200);
    await until("the keep-alive socket to be idle", () => Promise.resolve(idle !== undefined), 5000);
    await until("the stream to flow", () => Promise.resolve(stream.received().length > 0), 5000);
    const open = () => ({ ws: !socket.destroyed, stream: !stream.ended(), keepAlive: !(idle?.destroyed ?? true) });
    expect(open()).toEqual({ ws: true, stream: true, keepAlive: true });
    return {
      open,
      close: () => {
        agent.destroy();
      },
    };
  };
  const allCut = (open: () => { ws: boolean; stream: boolean; keepAlive: boolean }) => async () => {
    const now = open();
    return !now.ws && !now.stream && !now.keepAlive;
  };

  it("cuts open WebSockets, streams and keep-alive connections once their token is revoked", async () => {
    const ta = await share(a);
    const other = await share(a);
    const connections = await openAll(ta);
    const bystanders = await openAll(other);
    try {
      expect(await sandfleet.revokeConnectToken(ta.token)).toBe(true);
      const revokedAt = Date.now();
      await until("the revoked token's connections to be cut", allCut(connections.open), CUT_DEADLINE_MS);
      console.log(`cut ${String(Date.now() - revokedAt)} ms after revocation`);
      // Another token's connections to the same port stay open.
      expect(bystanders.open()).toEqual({ ws: true, stream: true, keepAlive: true });
      expect(
        (await fetchLoopback(`${ta.origin}/whoami`, { headers: { cookie: `sandfleet_connect=${ta.token}` } })).status,
      ).toBe(403);
    } finally {
      connections.close();
      bystanders.close();
    }
  });

  it("cuts open WebSockets, streams and keep-alive connections once their token expires", async () => {
    const ta = await share(a, 4000);
    const connections = await openAll(ta);
    try {
      const expiresAt = Date.parse(ta.expiresAt);
      await until("the token to expire", () => Promise.resolve(Date.now() >= expiresAt), 10_000);
      await until("the expired token's connections to be cut", allCut(connections.open), CUT_DEADLINE_MS);
      console.log(`cut ${String(Date.now() - expiresAt)} ms after expiry`);
    } finally {
      connections.close();
    }
  });

  it("serves TLS with a certificate made here: host-only __Host- cookie, the same checks over https and wss", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sandfleet-gateway-tls-"));
    let tls: Awaited<ReturnType<typeof serveGateway>> | undefined;
    try {
      // The names are the sandbox ports' own: a deployment's certificate names *.its-domain.
      const probe = await share(a);
      const names = [new URL(probe.origin).hostname, "localhost"];
      execFileSync(
        "openssl",
        [
          ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1"],
          ...["-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-subj", "/CN=sandfleet gateway test"],
          ...["-addext", `subjectAltName=${names.map((n) => `DNS:${n}`).join(",")}`],
        ],
        { stdio: "ignore" },
      );
      const cert = readFileSync(join(dir, "cert.pem"), "utf8");
      tls = await serveGateway(sandfleet, {
        address: "127.0.0.1:0",
        tls: { cert, key: readFileSync(join(dir, "key.pem"), "utf8") },
      });
      expect(tls.url).toMatch(/^https:\/\/localhost:\d+$/);
      const ta = await share(a, 60_000, tls.url);
      expect(ta.origin.startsWith("https://")).toBe(true);

      const first = await fetchLoopback(ta.url, { ca: cert, headers: { "sec-fetch-mode": "navigate" } });
      expect(first.status).toBe(303);
      expect(first.headers.location).toBe(`${ta.origin}/`);
      const setCookie = first.headers["set-cookie"]?.[0] ?? "";
      expect(setCookie).toMatch(
        /^__Host-sandfleet_connect=sfc_\w+; HttpOnly; SameSite=Lax; Path=\/; Max-Age=\d+; Secure$/,
      );
      expect(setCookie).not.toMatch(/domain/i);
      const cookie = setCookie.split(";")[0] ?? "";

      const echoed = await fetchLoopback(`${ta.origin}/echo`, { ca: cert, headers: { cookie } });
      expect(echoed.body).toMatch(/^name=A method=GET path=\/echo cookie=- authorization=- proto=https\n$/);
      // The cookie without its prefix is not the gateway's over TLS: another host could have set it.
      expect(
        (await fetchLoopback(`${ta.origin}/echo`, { ca: cert, headers: { cookie: `sandfleet_connect=${ta.token}` } }))
          .status,
      ).toBe(401);
      const offered = await fetchLoopback(`${ta.origin}/set-cookies`, { ca: cert, headers: { cookie } });
      expect(offered.headers["set-cookie"]).toEqual(ALLOWED_COOKIES);

      const foreign = await upgradeLoopback(`${ta.origin}/socket`, {
        ca: cert,
        headers: { cookie, origin: "https://evil.example" },
      });
      expect(foreign.status).toBe(403);
      const own = await upgradeLoopback(`${ta.origin}/socket`, { ca: cert, headers: { cookie, origin: ta.origin } });
      expect(own.status).toBe(101);
      expect(await exchangeText(own.socket as Socket, "over tls")).toBe("A: over tls");
      own.socket?.destroy();
      const rebound = await fetchLoopback(`${ta.origin}/whoami`, {
        ca: cert,
        headers: { cookie, host: `evil.example:${new URL(tls.url).port}` },
      });
      expect(rebound.status).toBe(421);

      // Chromium takes the __Host- cookie (it trusts this certificate for the test alone) and sends it back.
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      try {
        const page = await context.newPage();
        await visit(page, ta.url);
        expect(page.url()).toBe(`${ta.origin}/`);
        expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).document.cookie)).toBe("");
        expect(await page.evaluate(() => fetch("/echo").then((r) => r.text()))).toMatch(
          /^name=A .* cookie=- .* proto=https/,
        );
        const stored = await context.cookies(ta.origin);
        expect(stored.map((c) => [c.name, c.secure, c.httpOnly])).toEqual([["__Host-sandfleet_connect", true, true]]);
      } finally {
        await context.close();
      }
    } finally {
      await tls?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
