import { describe, expect, it } from "vitest";
import { askDaemon, DAEMON } from "../../provider/runtime/networks/egress.ts";
import { egressTables } from "../../provider/runtime/networks/egress-tables.ts";
import { LABEL } from "../../provider/runtime/engine-state/labels.ts";
import { packagedBinary } from "../../provider/runtime/supervisor/placement.ts";
import { memoryFleet } from "../support/memory-fleet.ts";

const DATA_ROOT = "/var/lib/docker";

/** An in-memory engine with a data root, the daemon's image of this package, and a daemon that answers every request. */
async function engineWithDaemon(existingLabels?: Record<string, string>) {
  const { docker } = memoryFleet({ exec: () => ({ exitCode: 0, stdout: "{}" }) });
  const info = await docker.info();
  docker.info = () => Promise.resolve({ ...info, dataRoot: DATA_ROOT });
  const { version } = packagedBinary("sandfleet-egress-linux-amd64");
  docker.addImage(`sandfleet-egress:${version}`);
  if (existingLabels) {
    await docker.containers.create({
      name: DAEMON,
      image: `sandfleet-egress:${version}`,
      entrypoint: ["/egress/sandfleet-egress", "serve"],
      env: {},
      labels: { [LABEL.managed]: "true", ...existingLabels },
      networkMode: "host",
      nanoCpus: 500_000_000,
      memoryBytes: 128 * 1024 * 1024,
      pidsLimit: 64,
      readOnlyRootfs: false,
      capDrop: ["ALL"],
      capAdd: ["NET_ADMIN"],
      securityOpt: [],
      runtime: "runc",
      init: false,
    });
    await docker.containers.start(DAEMON);
  }
  return { docker, version };
}

describe("placing an engine's egress daemon", () => {
  const { engineKey } = egressTables(DATA_ROOT);

  it("names its tables by the engine's data root", async () => {
    const { docker } = await engineWithDaemon();
    expect(await askDaemon(docker, { op: "generation" })).toBeUndefined();
    const daemon = await docker.containers.inspect(DAEMON);
    expect(daemon?.entrypoint).toEqual(["/egress/sandfleet-egress", "serve", "--engine-key", engineKey]);
    expect(daemon?.labels[LABEL.egressDaemonTables]).toBe(engineKey);
  });

  it("replaces a daemon from before per-engine tables with one that retires the legacy tables", async () => {
    const { docker } = await engineWithDaemon({ [LABEL.egressDaemonVersion]: "older" });
    expect(await askDaemon(docker, { op: "generation" })).toBeUndefined();
    const daemon = await docker.containers.inspect(DAEMON);
    expect(daemon?.entrypoint).toEqual([
      "/egress/sandfleet-egress",
      "serve",
      "--engine-key",
      engineKey,
      "--retire-tables",
      "legacy",
    ]);
  });

  it("replaces one whose tables were named by another data root (the engine's data moved) with one that retires them", async () => {
    const moved = egressTables("/srv/docker").engineKey;
    const { docker } = await engineWithDaemon({
      [LABEL.egressDaemonVersion]: "older",
      [LABEL.egressDaemonTables]: moved,
    });
    await askDaemon(docker, { op: "generation" });
    expect((await docker.containers.inspect(DAEMON))?.entrypoint.slice(-2)).toEqual(["--retire-tables", moved]);
  });

  it("keeps a daemon of its version with this engine's tables, and never retires another engine's", async () => {
    const { docker, version } = await engineWithDaemon();
    await askDaemon(docker, { op: "generation" });
    const placed = await docker.containers.inspect(DAEMON);
    await askDaemon(docker, { op: "generation" });
    expect((await docker.containers.inspect(DAEMON))?.id).toBe(placed?.id);
    // One of another version that already had per-engine tables is replaced without the legacy removal.
    const { docker: newer } = await engineWithDaemon({
      [LABEL.egressDaemonVersion]: `not-${version}`,
      [LABEL.egressDaemonTables]: engineKey,
    });
    await askDaemon(newer, { op: "generation" });
    expect((await newer.containers.inspect(DAEMON))?.entrypoint).not.toContain("--retire-tables");
  });
});
