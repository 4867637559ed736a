import { mkdirSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

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
