import { createServer, get, type Server } from "node:http";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandfleet } from "../../provider/client/sandfleet.ts";
import { serveDashboard } from "../../provider/serve/dashboard.ts";
import { launchBrowser, visit } from "../support/browser.ts";
import { cleanupApp, docker, uniqueApp } from "../support/engine.ts";

/**
 * What a page's script tries against the dashboard: open its push stream and
 * the event and log streams (EventSource, which a server must allow with CORS
 * before a page of another origin reads a byte), read them with fetch, and
 * act. Returns what it got: any sandbox's name in it is a leak.
 */
async function attack(page: Page, base: string, id: string): Promise<Record<string, string>> {
  return page.evaluate(
    async ({ base, id }) => {
      const stream = (url: string) =>
        new Promise<string>((resolve) => {
          const source = new EventSource(url, { withCredentials: true });
          const seen: string[] = [];
          for (const name of ["message", "overview", "history", "samples"])
            source.addEventListener(name, (e) => {
              seen.push((e as unknown as { data: string }).data);
            });
          source.onerror = () => {
            source.close();
            resolve(`error ${seen.join(" ")}`);
          };
          setTimeout(() => {
            source.close();
            resolve(`open ${seen.join(" ")}`);
          }, 5000);
        });
      const read = async (url: string, init: RequestInit = {}) => {
        try {
          const answer = await fetch(url, { credentials: "include", ...init });
          const reader = answer.body?.getReader();
          // A stream never ends: its first piece is enough to show a leak.
          const first = reader ? await Promise.race([reader.read(), new Promise((r) => setTimeout(r, 3000))]) : "";
          await reader?.cancel();
          const text =
            first && typeof first === "object" && "value" in first && first.value instanceof Uint8Array
              ? new TextDecoder().decode(first.value)
              : "";
          return `${String(answer.status)} ${text}`;
        } catch {
          return "blocked";
        }
      };
      const act = { method: "POST", headers: { "x-sandfleet-dashboard": "1" } };
      return {
        stream: await stream(`${base}api/stream`),
        events: await stream(`${base}api/events`),
        logs: await stream(`${base}api/sandboxes/${id}/logs`),
        fetchStream: await read(`${base}api/stream`),
        fetchOverview: await read(`${base}api/overview`),
        noCors: await read(`${base}api/stream`, { mode: "no-cors" }),
        pause: await read(`${base}api/sandboxes/${id}/pause`, act),
        terminate: await read(`${base}api/sandboxes/${id}/terminate`, act),
      };
    },
    { base, id },
  );
}

describe("the dashboard against pages of other origins and rebound names", () => {
  const app = uniqueApp("dashsec");
  const sandfleet = new Sandfleet({ docker });
  let served: Awaited<ReturnType<typeof serveDashboard>>;
  let attacker: Server;
  let attackerPort = 0;
  let browser: Browser;
  let id = "";

  beforeAll(async () => {
    const victim = await sandfleet.sandboxes.create({
      app,
      name: "victim",
      image: "sandfleet/busybox",
      command: ["sh", "-c", "echo the victim log; exec sleep infinity"],
    });
    id = victim.id;
    served = await serveDashboard(sandfleet, { address: "127.0.0.1:0", app });
    // The attacker's own site, on another port of this machine.
    attacker = createServer((_, response) => {
      response.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>elsewhere</title>");
    });
    await new Promise<void>((resolve) => attacker.listen(0, "127.0.0.1", resolve));
    attackerPort = (attacker.address() as { port: number }).port;
    browser = await launchBrowser(["--host-resolver-rules=MAP evil.test 127.0.0.1, MAP rebound.test 127.0.0.1"]);
  });
  afterAll(async () => {
    await browser.close();
    attacker.close();
    await served.close();
    await cleanupApp(app);
  });

  it("a page of another origin (another site, another port of 127.0.0.1) cannot open, read or act through the push stream, the event and log streams, or the API", async () => {
    for (const origin of [`http://evil.test:${String(attackerPort)}`, `http://127.0.0.1:${String(attackerPort)}`]) {
      const page = await browser.newPage();
      const statuses: string[] = [];
      page.on("response", (response) => {
        if (response.url().includes("/api/")) statuses.push(`${String(response.status())} ${response.url()}`);
      });
      await visit(page, `${origin}/`);
      const got = await attack(page, served.url, id);
      for (const [what, answer] of Object.entries(got)) {
        expect(answer, `${origin}: ${what}`).not.toContain("victim");
        expect(answer, `${origin}: ${what}`).not.toMatch(/^open/);
      }
      // The server itself refused each one (no stream opened for the page, even one it could not read).
      expect(statuses.length, origin).toBeGreaterThan(0);
      for (const status of statuses) expect(status, origin).toMatch(/^(403|421) /);
      await page.close();
    }
    expect((await sandfleet.sandboxes.fromId(id).then((s) => s.state())).status).toBe("running");
  });

  it("a page whose name was rebound to 127.0.0.1 (same origin to the browser) is refused by its Host, streams included", async () => {
    const port = new URL(served.url).port;
    const origin = `http://rebound.test:${port}`;
    const page = await browser.newPage();
    // The attacker's page, as served before its name was rebound: the browser then sends the rest to the dashboard.
    await page.route(`${origin}/attack`, (route) =>
      route.fulfill({ status: 200, contentType: "text/html", body: "<!doctype html><title>rebound</title>" }),
    );
    const statuses: string[] = [];
    page.on("response", (response) => {
      if (response.url().includes("/api/")) statuses.push(`${String(response.status())} ${response.url()}`);
    });
    await visit(page, `${origin}/attack`);
    const got = await attack(page, `${origin}/`, id);
    for (const [what, answer] of Object.entries(got)) {
      expect(answer, what).not.toContain("victim");
      expect(answer, what).not.toMatch(/^open/);
    }
    // Chromium retries a 421 on a fresh connection, then fails the request: the script reads nothing either way.
    for (const what of ["fetchStream", "fetchOverview", "pause", "terminate"] as const)
      expect(got[what], what).toMatch(/^(421 |blocked$)/);
    for (const status of statuses) expect(status).toMatch(/^421 /);
    // What the browser sent, told by the server itself: the stream is refused for the rebound name.
    for (const path of ["/api/stream", "/api/events", `/api/sandboxes/${id}/logs`]) {
      const status = await new Promise<number | undefined>((resolve, reject) => {
        get(
          { host: "127.0.0.1", port, path, headers: { host: `rebound.test:${port}`, accept: "text/event-stream" } },
          (res) => {
            res.resume();
            resolve(res.statusCode);
          },
        ).on("error", reject);
      });
      expect(status, path).toBe(421);
    }
    expect((await sandfleet.sandboxes.fromId(id).then((s) => s.state())).status).toBe("running");
  });

  it("its own page reads the push stream (the checks leave it working)", async () => {
    const page = await browser.newPage();
    await visit(page, served.url);
    await page.getByTestId("sandbox-victim").waitFor();
    const got = await page.evaluate(
      () =>
        new Promise<string>((resolve) => {
          const source = new EventSource("/api/stream");
          source.addEventListener("overview", (e) => {
            source.close();
            resolve((e as unknown as { data: string }).data);
          });
        }),
    );
    expect(got).toContain("victim");
  });
});
