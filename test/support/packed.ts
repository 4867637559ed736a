// The package as a user gets it: `npm pack` of this checkout, installed into a
// directory of the user's, with its dependencies from npm's cache where they
// are there (the registry only for what is not).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
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

/** The range of @pulumi/pulumi this checkout develops against. */
function pulumiRange(): string {
  const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    devDependencies: Record<string, string>;
  };
  return manifest.devDependencies["@pulumi/pulumi"] ?? "";
}

/**
 * The package as a new user installs it, for the calling test file: this checkout packed into a
 * work directory of the file's own before its tests (removed after them), and projects that
 * depend on the tarball (and on Pulumi, its peer) installed there.
 */
export function packedForFile(): {
  readonly work: string;
  readonly tarball: string;
  project(name: string, files: Record<string, string>): Promise<string>;
} {
  const work = mkdtempSync(join(tmpdir(), "sandfleet-package-"));
  let tarball = "";
  beforeAll(async () => {
    // dist/ is fresh (the e2e setup builds it); packing must not rebuild it under the other e2e files.
    tarball = await packTarball(work);
  });
  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
  });
  return {
    work,
    get tarball() {
      return tarball;
    },
    async project(name, files) {
      const dir = join(work, name);
      mkdirSync(dir, { recursive: true });
      const manifest = {
        name,
        private: true,
        type: "module",
        dependencies: { sandfleet: `file:${tarball}`, "@pulumi/pulumi": pulumiRange() },
      };
      writeFileSync(join(dir, "package.json"), JSON.stringify(manifest, null, 2));
      for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
      await mustRun("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel", "error"], {
        cwd: dir,
      });
      return dir;
    },
  };
}
