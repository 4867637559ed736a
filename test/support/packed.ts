// The package as a user gets it: `npm pack` of this checkout, installed into a
// directory of the user's, with its dependencies from npm's cache where they
// are there (the registry only for what is not).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { mustRun } from "./run.ts";

const root = new URL("../..", import.meta.url).pathname;

/** Packs dist/ as it is (no rebuild) into `dir`; the path of the tarball. */
export async function packTarball(dir: string): Promise<string> {
  const packed = await mustRun("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], {
    cwd: root,
  });
  const [info] = JSON.parse(packed.stdout) as { filename: string }[];
  return join(dir, info?.filename ?? "");
}

/** The version of a package this checkout has installed (so that npm's cache holds it). */
export function installedVersion(name: string): string {
  const manifest = JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")) as {
    version: string;
  };
  return manifest.version;
}

/**
 * `npm install NAME...` as a reader types it, with `sandfleet` from the
 * tarball (it is this checkout, not a published version) and every other name
 * at the version this checkout has, so that the install needs no download.
 */
export async function npmInstall(cwd: string, names: readonly string[], tarball: string): Promise<void> {
  const specs = names.map((name) => (name === "sandfleet" ? tarball : `${name}@${installedVersion(name)}`));
  await mustRun(
    "npm",
    ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel", "error", "--save", ...specs],
    { cwd },
  );
}

/** Bytes under a directory, as `du` counts them (apparent sizes: what the files hold). */
export async function bytesUnder(dir: string): Promise<number> {
  const du = await mustRun("du", ["-sb", dir]);
  return Number(du.stdout.split(/\s/)[0]);
}
