import { mkdirSync } from "node:fs";
import { chromium, type Browser, type Page, type Response } from "playwright-core";

/** Debian's Chromium, which the bootstrap installs: a browser download could not work here. */
export const CHROMIUM = "/usr/bin/chromium";

/** Where screenshots are kept after a run (gitignored). */
export const ARTIFACTS = new URL("../artifacts/", import.meta.url).pathname;

/**
 * Headless Chromium that makes no connection of its own (updates, sync,
 * lookups of Google's hosts); `args` adds switches, such as host resolver
 * rules that send a test domain to 127.0.0.1.
 */
export async function launchBrowser(args: string[] = []): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      ...args,
    ],
  });
}

/**
 * `page.goto`, again when Chromium cancels it with net::ERR_NETWORK_CHANGED:
 * Chromium on Linux cancels every request in flight, loopback included, when
 * any interface on the host changes, and the engine adds and removes bridges
 * and veths for other tests' containers all the time. The cancel may also
 * reach playwright as the load "interrupted by another navigation" to
 * Chromium's error page. Any other failure, and one of these that lasts five
 * loads, is the test's to see.
 */
export async function visit(page: Page, url: string): Promise<Response | null> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await page.goto(url);
    } catch (error) {
      const cancelled = /net::ERR_NETWORK_CHANGED|interrupted by another navigation to "chrome-error:/.test(
        String(error),
      );
      if (attempt >= 5 || !cancelled) throw error;
    }
  }
}
