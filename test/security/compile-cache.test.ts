// Another account on a machine where `sandfleet` runs: Node runs what it finds
// in its compile cache as the code of the command's bundle, so whoever can
// write the cache's folder runs code as the user (often root, for the engine's
// socket) who next types `sandfleet`. The installed command keeps its cache
// in a folder of that user's alone, or keeps none.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = new URL("../../", import.meta.url).pathname;
const bin = join(root, "dist/bin/sandfleet.cjs");
const NOBODY = 65534;
let scratch: string;

beforeAll(() => {
  execFileSync(process.execPath, [join(root, "scripts/bundle-cli.ts")], { stdio: "inherit" });
  scratch = mkdtempSync(join(tmpdir(), "sandfleet-compile-cache-"));
  chmodSync(scratch, 0o700);
});

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

/** The folders the command read a compile cache from (Node's own account of it), running `--help`. */
function cacheReads(env: Record<string, string>): string[] {
  const { NODE_COMPILE_CACHE: _unset, ...inherited } = process.env;
  const run = spawnSync(process.execPath, [bin, "--help"], {
    env: { ...inherited, NODE_DEBUG_NATIVE: "COMPILE_CACHE", ...env },
    encoding: "utf8",
    timeout: 30_000,
  });
  expect(run.status).toBe(0);
  return [...run.stderr.matchAll(/reading cache from (\S+)/g)].map((m) => m[1] ?? "");
}

/** Compiled "code" where Node would look for the bundle's: the whole version folder, filled with junk. */
function plant(cacheDir: string): void {
  for (const version of ["", `${process.version}-planted`]) {
    mkdirSync(join(cacheDir, version), { recursive: true });
    writeFileSync(join(cacheDir, version, "planted"), "not code of the package's");
  }
  execFileSync("chmod", ["-R", "a+rwx", cacheDir]);
}

describe("the installed command's compile cache", () => {
  // The attack plants files as another user, which needs root: the suite runs as root (its engine
  // does), and a run without it fails here rather than passing with the attack untried.
  beforeAll(() => {
    if (process.getuid?.() !== 0) throw new Error("these attacks need root (to act as another user)");
  });

  it("is read from the user's own cache home (the control: the cache is in use)", () => {
    const home = join(scratch, "own");
    mkdirSync(home, { mode: 0o700 });
    cacheReads({ XDG_CACHE_HOME: home }); // the first run writes it
    const reads = cacheReads({ XDG_CACHE_HOME: home });
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.every((r) => r.startsWith(join(home, "sandfleet", "node-compile-cache")))).toBe(true);
  });

  it("is never read from Node's default folder in the shared temporary directory, where another user may plant it", () => {
    const shared = join(scratch, "tmp");
    mkdirSync(shared, { mode: 0o1777 });
    chmodSync(shared, 0o1777);
    plant(join(shared, "node-compile-cache"));
    const reads = cacheReads({ TMPDIR: shared, XDG_CACHE_HOME: join(scratch, "own") });
    expect(reads.filter((r) => r.startsWith(shared))).toEqual([]);
  });

  it("is not kept in a cache home another user owns (sudo keeping the caller's HOME)", () => {
    const theirs = join(scratch, "theirs");
    mkdirSync(theirs, { mode: 0o755 });
    plant(join(theirs, "sandfleet", "node-compile-cache"));
    execFileSync("chown", ["-R", `${String(NOBODY)}:${String(NOBODY)}`, theirs]);
    chownSync(theirs, NOBODY, NOBODY);
    expect(cacheReads({ XDG_CACHE_HOME: theirs })).toEqual([]);
  });

  it("is not kept where others can write, on the way to it or in it", () => {
    const open = join(scratch, "open");
    mkdirSync(join(open, "inner"), { recursive: true });
    chmodSync(open, 0o777); // a folder above the cache home, writable by all: the cache home can be swapped
    chmodSync(join(open, "inner"), 0o700);
    expect(cacheReads({ XDG_CACHE_HOME: join(open, "inner") })).toEqual([]);
    const wide = join(scratch, "wide");
    mkdirSync(join(wide, "sandfleet", "node-compile-cache"), { recursive: true, mode: 0o700 });
    chmodSync(join(wide, "sandfleet", "node-compile-cache"), 0o777); // the cache folder itself
    expect(cacheReads({ XDG_CACHE_HOME: wide })).toEqual([]);
  });

  it("runs without a cache, and returns, where its folder cannot be made", () => {
    for (const home of ["/proc/sandfleet-nowhere", "/etc/passwd", "relative/cache"]) {
      const reads = cacheReads({ XDG_CACHE_HOME: home, HOME: join(scratch, "no-such-home") });
      expect(reads).toEqual([]);
    }
  });
});
