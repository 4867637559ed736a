import { get } from "node:http";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveDashboard } from "../../provider/serve/dashboard.ts";
import { ARTIFACTS, launchBrowser, visit } from "../support/browser.ts";
import { sandfleet as cli } from "../support/cli.ts";
import { cleanupApp, uniqueApp } from "../support/engine.ts";
import { keepScreenshot, rowNames, sandfleet, stateOf, warmPool, type Box } from "../support/dashboard-page.ts";
import { until } from "../support/until.ts";

// The page is the built one (dist/dashboard), as the package ships it.
describe("sandfleet dashboard in headless Chromium", () => {
  const app = uniqueApp("dash");
  let browser: Browser;
  let served: Awaited<ReturnType<typeof serveDashboard>>;
  let claimedName = "";

  beforeAll(async () => {
    await warmPool(app, 2);
    claimedName = (await sandfleet.sandboxes.claim(app, "warm")).name;
    await Promise.all([
      sandfleet.sandboxes.create({
        app,
        name: "web",
        image: "sandfleet/busybox",
        timeoutMs: 10 * 60_000,
        command: ["sh", "-c", "echo hello from the sandbox; exec sleep infinity"],
      }),
      sandfleet.sandboxes.create({
        app,
        name: "alpha",
        image: "sandfleet/busybox",
        tags: { team: "blue" },
        command: ["sleep", "infinity"],
      }),
      // Holds 24 MB in its /dev/shm (memory, counted in its cgroup): the most memory of the app.
      sandfleet.sandboxes.create({
        app,
        name: "zulu",
        image: "sandfleet/busybox",
        memoryMiB: 128,
        command: ["sh", "-c", "head -c 24000000 /dev/zero > /dev/shm/fill; exec sleep infinity"],
      }),
      // Burns a tenth of a core: the most CPU of the app.
      sandfleet.sandboxes.create({
        app,
        name: "busy",
        image: "sandfleet/busybox",
        cpu: 0.1,
        command: ["sh", "-c", "while :; do :; done"],
      }),
      // A log longer than its box, and a line more every 300 ms.
      sandfleet.sandboxes.create({
        app,
        name: "chatty",
        image: "sandfleet/busybox",
        command: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo line $i; [ $i -gt 200 ] && sleep 0.3; done"],
      }),
    ]);
    served = await serveDashboard(sandfleet, { address: "127.0.0.1:0", app });
    browser = await launchBrowser();
  }, 300_000);
  afterAll(async () => {
    await browser.close();
    await served.close();
    await cleanupApp(app);
  });

  it("shows the engine's kind, the pool's numbers, and groups its members by pool: warm apart from claimed", async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await visit(page, served.url);
    await page.getByTestId("engine-kind").filter({ hasText: "Docker" }).waitFor();
    await page.getByTestId("engine").filter({ hasText: "API 1." }).waitFor();
    const pool = page.getByTestId(`pool-${app}-warm`);
    await pool.getByTestId("ready").filter({ hasText: "1/2" }).waitFor();
    expect(await pool.getByTestId("claimed").textContent()).toBe("1");

    // By app: one group holding all seven (named, so that a row too many says which it is).
    const byApp = page.getByTestId(`group-${app}`);
    await expect.poll(() => rowNames(byApp.locator("tbody tr")), { timeout: 30_000 }).toHaveLength(7);

    await page.getByLabel("group by").selectOption("pool");
    const warm = page.getByTestId(`group-${app}/warm · warm`);
    const claimed = page.getByTestId(`group-${app}/warm · claimed`);
    expect(await warm.locator("tbody tr").count()).toBe(1);
    expect(await claimed.locator("tbody tr").count()).toBe(1);
    expect(await claimed.getByTestId(`sandbox-${claimedName}`).count()).toBe(1);
    expect(await page.getByTestId("group-not in a pool").locator("tbody tr").count()).toBe(5);
    await page.close();
  });

  it("searches by name, id and tag, and sorts by name, age, CPU and memory", async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await visit(page, served.url);
    const rows = page.locator("tbody tr");
    // The page's first state comes from the server: waited for as long as the page's other waits.
    await expect.poll(() => rowNames(rows), { timeout: 30_000 }).toHaveLength(7);
    const search = page.getByLabel("search");

    await search.fill("team=blue");
    await expect.poll(() => rows.count()).toBe(1);
    expect(await page.getByTestId("sandbox-alpha").count()).toBe(1);
    const zulu = await sandfleet.sandboxes.fromName(app, "zulu");
    await search.fill(zulu.id.slice(0, 10));
    await expect.poll(() => rows.count()).toBe(1);
    expect(await page.getByTestId("sandbox-zulu").count()).toBe(1);
    await search.fill("chat");
    await expect.poll(() => rows.count()).toBe(1);
    await search.fill("");

    await page.getByLabel("group by").selectOption("none");
    const names = async () => (await rows.locator("td:first-child b").allTextContents()).filter((n) => n.length > 0);
    await page.getByLabel("sort by").selectOption("name");
    const byName = await names();
    expect(byName).toEqual([...byName].sort((a, b) => a.localeCompare(b)));
    // zulu holds the most memory: first once its use has been sampled.
    await page.getByLabel("sort by").selectOption("memory");
    await expect.poll(async () => (await names())[0], { timeout: 30_000 }).toBe("zulu");
    // Oldest first, as the engine made them.
    await page.getByLabel("sort by").selectOption("age");
    const made = new Map((await sandfleet.sandboxes.list({ app })).map((s) => [s.name, Date.parse(s.createdAt)]));
    const ages = (await names()).map((n) => made.get(n) ?? Number.NaN);
    expect(ages).toHaveLength(7);
    expect(ages).toEqual([...ages].sort((a, b) => a - b));
    await page.getByLabel("sort by").selectOption("cpu");
    await expect.poll(async () => (await names())[0], { timeout: 30_000 }).toBe("busy");
    await page.close();
  });

  it("shows a CLI pause on the page as soon as the engine has it, pushed, not polled", async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await visit(page, served.url);
    await stateOf(page, "alpha").filter({ hasText: "running" }).waitFor();
    const started = performance.now();
    const paused = await cli(["pause", `${app}/alpha`]);
    expect(paused.code, paused.stderr).toBe(0);
    const cliDone = performance.now();
    await stateOf(page, "alpha").filter({ hasText: "paused" }).waitFor({ timeout: 30_000 });
    const shown = performance.now();
    console.log(
      `dashboard update latency (7 sandboxes): ${(shown - cliDone).toFixed(0)} ms after \`sandfleet pause\` returned (${(shown - started).toFixed(0)} ms after it started)`,
    );
    const resumed = await cli(["resume", `${app}/alpha`]);
    expect(resumed.code, resumed.stderr).toBe(0);
    await stateOf(page, "alpha").filter({ hasText: "running" }).waitFor({ timeout: 30_000 });
    await page.close();
  });

  it("pauses, resumes and extends, the header never behind; Extend moves the deadline; Terminate asks first", async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    await visit(page, served.url);
    await page.getByTestId("sandbox-web").click();
    const detail = page.getByTestId("detail");
    await detail.getByTestId("log").filter({ hasText: "hello from the sandbox" }).waitFor();
    const web = await sandfleet.sandboxes.fromName(app, "web");
    const header = detail.getByTestId("detail-state");
    const button = (name: string) => detail.getByRole("button", { name, exact: true });
    const message = detail.getByTestId("message");

    await button("Pause").click();
    await message.filter({ hasText: "pause: done" }).waitFor();
    // The action is answered once the page has been pushed the engine's new state: no stale header.
    expect(await header.textContent()).toBe("paused");
    expect(await button("Resume").isEnabled()).toBe(true);
    expect((await web.state()).status).toBe("paused");
    await detail.getByTestId("events").filter({ hasText: "paused" }).waitFor();
    await page.screenshot({ path: `${ARTIFACTS}dashboard-paused.png`, fullPage: true });

    await button("Resume").click();
    await message.filter({ hasText: "resume: done" }).waitFor();
    expect(await header.textContent()).toBe("running");
    expect(await button("Resume").isEnabled()).toBe(false);
    expect(await button("Pause").isEnabled()).toBe(true);

    // Its timeout was 10 minutes from its start; extended to 2 hours from now.
    const deadline = detail.getByTestId("deadline");
    const before = Number(await deadline.getAttribute("data-deadline-ms"));
    expect(before).toBeGreaterThan(Date.now());
    expect(before).toBeLessThan(Date.now() + 10 * 60_000 + 5_000);
    await detail.getByLabel("new lifetime from now").fill("2h");
    const asked = Date.now();
    await button("Extend").click();
    await message.filter({ hasText: "extend: done" }).waitFor();
    const after = Number(await deadline.getAttribute("data-deadline-ms"));
    expect(after).toBeGreaterThanOrEqual(asked + 2 * 3600_000 - 1_000);
    expect(after).toBeLessThanOrEqual(Date.now() + 2 * 3600_000);
    expect(await deadline.textContent()).toMatch(/^in (1h 59m|2h 0m)/);
    expect(await page.getByTestId("sandbox-web").getByTestId("row-deadline").textContent()).toMatch(
      /^in (1h 59m|2h 0m)/,
    );

    // Terminate asks first; Cancel leaves it running.
    await button("Terminate").click();
    const confirm = detail.getByTestId("confirm");
    await confirm.waitFor();
    expect(await confirm.textContent()).toContain(`Terminate ${app}/web?`);
    await confirm.getByRole("button", { name: "Cancel" }).click();
    expect(await confirm.count()).toBe(0);
    expect((await web.state()).status).toBe("running");
    await button("Terminate").click();
    await confirm.getByRole("button", { name: "Yes, terminate" }).click();
    await message.filter({ hasText: "terminate: done" }).waitFor();
    expect(await header.textContent()).toBe("exited");
    expect(await web.poll()).toBe(137);
    await detail.getByTestId("events").filter({ hasText: "ended (terminated)" }).waitFor();
    await page.close();
  });

  it("keeps CPU and memory history as small charts, and the log follows its end until scrolled up", async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    await visit(page, served.url);
    await page.getByTestId("sandbox-chatty").click();
    const detail = page.getByTestId("detail");
    const log = detail.getByTestId("log");
    const lastLine = async () => Number(/line (\d+)\s*$/.exec((await log.textContent()) ?? "")?.[1] ?? 0);
    const atEnd = () =>
      log.evaluate((el) => {
        const b = el as unknown as Box;
        return b.scrollHeight > b.clientHeight && b.scrollTop + b.clientHeight >= b.scrollHeight - 4;
      });
    await until("the log to overflow its box", async () => (await lastLine()) > 200, 30_000);
    const seen = await lastLine();
    await until("more lines", async () => (await lastLine()) > seen + 2, 30_000);
    expect(await atEnd()).toBe(true);
    expect(await detail.getByTestId("log-follow").textContent()).toBe("following");

    // Scrolled up to read, it stays where it is while lines come.
    await log.evaluate((el) => {
      (el as unknown as Box).scrollTop = 0;
    });
    await detail.getByTestId("log-follow").filter({ hasText: "not following" }).waitFor();
    const whenUp = await lastLine();
    await until("more lines while scrolled up", async () => (await lastLine()) > whenUp + 2, 30_000);
    expect(await log.evaluate((el) => (el as unknown as Box).scrollTop)).toBe(0);
    // Back at the end, it follows again.
    await log.evaluate((el) => {
      (el as unknown as Box).scrollTop = (el as unknown as Box).scrollHeight;
    });
    await detail.getByTestId("log-follow").filter({ hasText: "following" }).waitFor();
    const whenBack = await lastLine();
    await until("more lines once back at the end", async () => (await lastLine()) > whenBack + 2, 30_000);
    expect(await atEnd()).toBe(true);

    // The charts fill with samples (one every two seconds).
    const points = (id: string) =>
      detail.getByTestId(id).evaluate((el) => Number((el as unknown as Box).getAttribute("data-points")));
    await until("three samples in the charts", async () => (await points("cpu-chart")) >= 3, 60_000);
    expect(await points("memory-chart")).toBeGreaterThanOrEqual(3);
    expect(await detail.getByTestId("cpu-chart").locator("polyline").count()).toBe(1);
    await page.getByLabel("group by").selectOption("pool");
    await page.screenshot({ path: `${ARTIFACTS}dashboard.png`, fullPage: true });
    keepScreenshot("dashboard.png");
    await page.close();
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

// The heavy one: a warm pool of 200 (SANDFLEET_DASHBOARD_SCALE to change it), three pages open at once.
