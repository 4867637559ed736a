import { copyFileSync } from "node:fs";
import { get } from "node:http";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandfleet } from "../../provider/client/sandfleet.ts";
import { poolProvider } from "../../provider/resources/pool-provider.ts";
import { serveDashboard } from "../../provider/serve/dashboard.ts";
import { ARTIFACTS, launchBrowser } from "../support/browser.ts";
import { cleanupApp, docker, uniqueApp } from "../support/engine.ts";
import { until } from "../support/until.ts";

// The page is the built one (dist/dashboard), as the package ships it.
describe("sandfleet dashboard in headless Chromium", () => {
  const app = uniqueApp("dash");
  const sandfleet = new Sandfleet({ docker });
  let browser: Browser;
  let served: Awaited<ReturnType<typeof serveDashboard>>;
  let claimedId = "";

  beforeAll(async () => {
    const checked = await poolProvider.check(
      {},
      { app, name: "warm", replicas: 2, template: { image: "sandfleet/busybox", memoryMiB: 32 } },
    );
    await poolProvider.create(checked.inputs as Record<string, unknown>);
    claimedId = (await sandfleet.sandboxes.claim(app, "warm")).id;
    await sandfleet.sandboxes.create({
      app,
      name: "web",
      image: "sandfleet/busybox",
      command: ["sh", "-c", "echo hello from the sandbox; exec sleep infinity"],
    });
    served = await serveDashboard(sandfleet, { address: "127.0.0.1:0", app });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser.close();
    await served.close();
    await cleanupApp(app);
  });

  it("lists the pool with its ready and claimed counts, and its members", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(served.url);
    const pool = page.getByTestId(`pool-${app}-warm`);
    await pool.getByTestId("ready").filter({ hasText: "1/2" }).waitFor();
    expect(await pool.getByTestId("claimed").textContent()).toBe("1");
    expect(await pool.getByTestId("paused").textContent()).toBe("0");
    // Both members are listed as sandboxes of the pool, and the claimed one among them.
    const memberRows = page.locator("tbody tr").filter({ has: page.locator("td:nth-child(2)", { hasText: "warm" }) });
    expect(await memberRows.count()).toBe(2);
    expect(await page.getByTestId("sandbox-web").textContent()).toContain("running");
    await page.screenshot({ path: `${ARTIFACTS}dashboard-pool.png`, fullPage: true });
    const claimed = await sandfleet.sandboxes.fromId(claimedId);
    expect(await page.getByTestId(`sandbox-${claimed.name}`).textContent()).toContain("warm · claimed");
  });

  it("shows a sandbox's live log and events, and pauses, resumes, extends and terminates it", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(served.url);
    await page.getByTestId("sandbox-web").click();
    const detail = page.getByTestId("detail");
    await detail.getByTestId("log").filter({ hasText: "hello from the sandbox" }).waitFor();

    const web = await sandfleet.sandboxes.fromName(app, "web");
    await detail.getByRole("button", { name: "Pause" }).click();
    // Paused for real: the engine says so, not only the page.
    await until("the container to be paused", async () => (await web.state()).status === "paused", 10_000);
    await page.getByTestId("sandbox-web").getByTestId("state").filter({ hasText: "paused" }).waitFor();
    await detail.getByTestId("events").filter({ hasText: "paused" }).waitFor();
    await page.screenshot({ path: `${ARTIFACTS}dashboard-paused.png`, fullPage: true });

    await detail.getByRole("button", { name: "Resume" }).click();
    await until("the container to run again", async () => (await web.state()).status === "running", 10_000);

    await detail.getByRole("textbox").fill("10m");
    await detail.getByRole("button", { name: "Extend" }).click();
    await detail.getByTestId("message").filter({ hasText: "extend: done" }).waitFor();

    await detail.getByRole("button", { name: "Terminate" }).click();
    await until("the container to end", async () => (await web.poll()) === 137, 10_000);
    await detail.getByTestId("events").filter({ hasText: "ended (terminated)" }).waitFor();
  });

  it("refuses actions without its header, and requests addressed to another host", async () => {
    const id = (await sandfleet.sandboxes.list({ app }))[0]?.id ?? "";
    const forged = await fetch(`${served.url}api/sandboxes/${id}/pause`, { method: "POST" });
    expect(forged.status).toBe(403);
    // A page of another site whose name was rebound to 127.0.0.1 sends its own name as Host (fetch cannot set it).
    const rebound = await new Promise<number | undefined>((resolve, reject) => {
      const port = new URL(served.url).port;
      get({ host: "127.0.0.1", port, path: "/api/overview", headers: { host: `evil.example:${port}` } }, (res) => {
        res.resume();
        resolve(res.statusCode);
      }).on("error", reject);
    });
    expect(rebound).toBe(421);
  });

  it("needs its token when bound beyond loopback", async () => {
    const open = await serveDashboard(sandfleet, { address: "0.0.0.0:0", app });
    try {
      expect(open.token).toMatch(/^[0-9a-f]{32}$/);
      const port = new URL(open.url).port;
      expect((await fetch(`http://127.0.0.1:${port}/api/overview`)).status).toBe(401);
      const withToken = await fetch(`http://127.0.0.1:${port}/api/overview`, {
        headers: { authorization: `Bearer ${open.token ?? ""}` },
      });
      expect(withToken.status).toBe(200);
    } finally {
      await open.close();
    }
  });
});

// Kept beside the page's source for the README; refreshed by a run with SANDFLEET_UPDATE_SCREENSHOT=1.
afterAll(() => {
  if (process.env.SANDFLEET_UPDATE_SCREENSHOT === "1")
    copyFileSync(
      `${ARTIFACTS}dashboard-paused.png`,
      new URL("../../provider/serve/dashboard-ui/screenshot.png", import.meta.url).pathname,
    );
});
