// What the dashboard's browser tests share: the client they drive, a warm pool to show, and
// what they read of the page.
import { copyFileSync, mkdirSync } from "node:fs";
import type { Locator, Page } from "playwright-core";
import { Sandfleet } from "../../provider/client/sandfleet.ts";
import { poolProvider } from "../../provider/resources/pool-provider.ts";
import { ARTIFACTS } from "./browser.ts";
import { docker } from "./engine.ts";

export const sandfleet = new Sandfleet({ docker });

/** The screenshots the README shows, refreshed by a run with SANDFLEET_UPDATE_SCREENSHOT=1. */
const DOCS = new URL("../../docs/", import.meta.url).pathname;
export function keepScreenshot(name: string): void {
  if (process.env.SANDFLEET_UPDATE_SCREENSHOT !== "1") return;
  mkdirSync(DOCS, { recursive: true });
  copyFileSync(`${ARTIFACTS}${name}`, `${DOCS}${name}`);
}

export async function warmPool(app: string, replicas: number): Promise<void> {
  const checked = await poolProvider.check(
    {},
    {
      app,
      name: "warm",
      replicas,
      template: { image: "sandfleet/busybox", memoryMiB: 32, readiness: { exec: ["true"], intervalMs: 50 } },
    },
  );
  await poolProvider.create(checked.inputs as Record<string, unknown>);
}

/** What the tests read of an element in the page (the tests' types know no DOM). */
export interface Box {
  scrollTop: number;
  scrollHeight: number;
  clientHeight: number;
  getAttribute: (name: string) => string | null;
}

/** The sandboxes' names in these rows, as the page shows them: what a count that is off by one is made of. */
export function rowNames(rows: Locator): Promise<string[]> {
  return rows.evaluateAll((found: Pick<Box, "getAttribute">[]) =>
    found.map((row) => (row.getAttribute("data-testid") ?? "").replace(/^sandbox-/, "")),
  );
}

export const stateOf = (page: Page, name: string) => page.getByTestId(`sandbox-${name}`).getByTestId("state");
