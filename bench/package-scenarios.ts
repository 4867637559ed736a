// What `npm install sandfleet` puts on a user's disk: the packed tarball with
// its dependencies, which serve Docker and Kubernetes alike.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bytesUnder, npmInstall, packTarball } from "../test/support/packed.ts";
import type { Figure } from "./measure.ts";

const MiB = 1024 * 1024;

/** Packages under node_modules, scoped ones counted one by one. */
function packagesIn(modules: string): number {
  return readdirSync(modules)
    .filter((name) => !name.startsWith("."))
    .reduce((n, name) => n + (name.startsWith("@") ? readdirSync(join(modules, name)).length : 1), 0);
}

export async function installedSize(): Promise<Figure[]> {
  const work = mkdtempSync(join(tmpdir(), "sandfleet-bench-size-"));
  try {
    const tarball = await packTarball(work);
    const project = join(work, "project");
    mkdirSync(project);
    writeFileSync(join(project, "package.json"), JSON.stringify({ private: true, type: "module" }));
    const modules = join(project, "node_modules");
    await npmInstall(project, ["sandfleet"], tarball);
    const docker = await bytesUnder(modules);
    const dockerPackages = packagesIn(modules);
    const supervisor = await bytesUnder(join(modules, "sandfleet/supervisor"));
    return [
      {
        name: "installed size of `npm install sandfleet`, for Docker and Kubernetes",
        value: docker / MiB,
        unit: "MiB",
        note: `node_modules, ${String(dockerPackages)} packages, ${(supervisor / MiB).toFixed(0)} MiB of it the static supervisor and egress binaries (amd64 and arm64); Kubernetes needs nothing more (sandfleet's own API client, \`ws\` for its WebSockets)`,
      },
    ];
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
