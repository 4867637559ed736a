import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { currentMaker, makerIsGone } from "./maker.ts";

/*
 * Scratch folders (an image's build context) are removed when their work
 * ends, but a process killed mid-way never gets there. Each folder's name
 * says which process made it, so the next one sweeps the folders of makers
 * that are gone before it makes its own.
 */

/** A new scratch folder `<tmp>/<prefix><pid>.<start>-XXXXXX`, after sweeping those of dead makers. */
export function makeScratchDir(prefix: string): string {
  sweepScratchDirs(prefix);
  const [, pid, start] = currentMaker().split(":");
  return mkdtempSync(join(tmpdir(), `${prefix}${pid ?? "0"}.${start ?? "0"}-`));
}

/** Removes the scratch folders of `prefix` whose maker is gone. */
export function sweepScratchDirs(prefix: string): void {
  let entries: string[];
  try {
    entries = readdirSync(tmpdir());
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!entry.startsWith(prefix)) continue;
    const match = /^(\d+)\.(\d+)-/.exec(entry.slice(prefix.length));
    if (match && makerIsGone(`${hostname()}:${match[1] ?? ""}:${match[2] ?? ""}`)) {
      rmSync(join(tmpdir(), entry), { recursive: true, force: true });
    }
  }
}
