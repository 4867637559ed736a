import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveDashboard } from "../../provider/serve/dashboard.ts";
import { ARTIFACTS, launchBrowser, visit } from "../support/browser.ts";
import { sandfleet as cli } from "../support/cli.ts";
import { cleanupApp, uniqueApp } from "../support/engine.ts";
import { keepScreenshot, sandfleet, stateOf, warmPool, type Box } from "../support/dashboard-page.ts";
import { until } from "../support/until.ts";

// The page is the built one (dist/dashboard), as the package ships it, with 200 sandboxes on it.
describe("sandfleet dashboard with 200 sandboxes", () => {
  const size = Number(process.env.SANDFLEET_DASHBOARD_SCALE ?? 200);
  const app = uniqueApp("dash200");
  let browser: Browser;
  let served: Awaited<ReturnType<typeof serveDashboard>>;
  let claimedName = "";
  let claimedId = "";

  beforeAll(async () => {
    await warmPool(app, size);
    const claimed = await sandfleet.sandboxes.claim(app, "warm");
    claimedName = claimed.name;
    claimedId = claimed.id;
    served = await serveDashboard(sandfleet, { address: "127.0.0.1:0", app });
    browser = await launchBrowser();
  }, 1_800_000);
  afterAll(async () => {
    await browser.close();
    await served.close();
    await cleanupApp(app);
  }, 600_000);

  it("shows a CLI pause and resume on every open page, pushed, and samples each sandbox's use", async () => {
    const pages = await Promise.all(
      [0, 1, 2].map(async () => {
        const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
        await visit(page, served.url);
        await expect.poll(() => page.locator("tbody tr").count(), { timeout: 60_000 }).toBe(size);
        await stateOf(page, claimedName).filter({ hasText: "running" }).waitFor();
        return page;
      }),
    );
    const latencies: string[] = [];
    for (const [verb, state] of [
      ["pause", "paused"],
      ["resume", "running"],
    ] as const) {
      // A claimed member is named by its id: its name was its pool's.
      const done = await cli([verb, claimedId]);
      expect(done.code, done.stderr).toBe(0);
      const cliDone = performance.now();
      const shown = await Promise.all(
        pages.map(async (page) => {
          await stateOf(page, claimedName).filter({ hasText: state }).waitFor({ timeout: 60_000 });
          return performance.now() - cliDone;
        }),
      );
      latencies.push(`${verb} ${shown.map((ms) => ms.toFixed(0)).join(", ")} ms`);
    }
    console.log(`dashboard update latency (${String(size)} sandboxes, 3 pages): ${latencies.join("; ")}`);
    const page = pages[0];
    if (!page) return;
    // For the README: the pool's members grouped, the claimed one selected.
    await page.getByLabel("group by").selectOption("pool");
    await page.getByTestId(`sandbox-${claimedName}`).click();
    await page.getByTestId("detail").waitFor();
    await page
      .getByTestId(`sandbox-${claimedName}`)
      .getByTestId("memory")
      .filter({ hasText: "MiB" })
      .waitFor({ timeout: 60_000 });
    // How often each of the 200 is sampled on this engine: the chart's points over the time they span.
    const chart = page.getByTestId("detail").getByTestId("cpu-chart");
    const attribute = (name: string) => chart.evaluate((el, n) => Number((el as unknown as Box).getAttribute(n)), name);
    await until("three samples of the claimed sandbox", async () => (await attribute("data-points")) >= 3, 300_000);
    const [points, spanMs] = [await attribute("data-points"), await attribute("data-span-ms")];
    console.log(
      `usage samples at ${String(size)} sandboxes: ${String(points)} over ${(spanMs / 1000).toFixed(1)} s (one every ${(spanMs / 1000 / (points - 1)).toFixed(1)} s)`,
    );
    await page.evaluate(() => {
      (globalThis as unknown as { scrollTo: (x: number, y: number) => void }).scrollTo(0, 0);
    });
    await page.screenshot({ path: `${ARTIFACTS}dashboard-200.png` });
    keepScreenshot("dashboard-200.png");
  }, 600_000);
});
