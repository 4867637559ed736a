// What `npm install sandfleet` puts on a user's disk: the packed tarball with
// its dependencies, for a Docker user (the Kubernetes client is an optional
// peer, left out) and with the Kubernetes client added.
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
    await npmInstall(project, ["@kubernetes/client-node"], tarball);
    const kubernetes = await bytesUnder(modules);
    return [
      {
        name: "installed size of `npm install sandfleet` for Docker",
        value: docker / MiB,
        unit: "MiB",
        note: `node_modules, ${String(dockerPackages)} packages, ${(supervisor / MiB).toFixed(0)} MiB of it the static supervisor and egress binaries (amd64 and arm64); no \`@kubernetes/client-node\` (an optional peer)`,
      },
      {
        name: "installed size with `@kubernetes/client-node` added",
        value: kubernetes / MiB,
        unit: "MiB",
        baselineName: "for Docker",
        baseline: docker / MiB,
        note: `node_modules, ${String(packagesIn(modules))} packages`,
      },
    ];
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
