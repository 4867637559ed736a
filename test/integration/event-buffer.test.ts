import { afterAll, describe, expect, it } from "vitest";
import { lastExecActivity } from "../../provider/runtime/agent/idle.ts";
import { LABEL } from "../../provider/runtime/engine-state/labels.ts";
import { createSandbox } from "../../provider/runtime/sandboxes/sandbox-ops.ts";
import { cleanupApp, docker, uniqueApp } from "../support/engine.ts";

// The Docker engine keeps its newest 256 events of every kind in one buffer:
// records made and removed (a pool's lock on every pass) push a sandbox's
// exec events out while the answer about execs alone stays short.
describe("the engine's event buffer", () => {
  const app = uniqueApp("events");
  afterAll(() => cleanupApp(app));

  it("says when a sandbox's execs may have been pushed out by other events, and since when it holds all", async () => {
    const { id } = await createSandbox(docker, { app, image: "sandfleet/busybox", supervisor: false });
    const beforeExecMs = Date.now();
    expect((await docker.exec.run(id, { argv: ["true"] })).exitCode).toBe(0);
    const seen = await lastExecActivity(docker, beforeExecMs - 60_000, Date.now());
    expect(seen.byContainer.get(id)).toBeGreaterThanOrEqual(Math.floor(beforeExecMs / 1000) * 1000);

    // 300 events of volumes, none of a container.
    for (let i = 0; i < 150; i++) {
      const name = `${app}-flood-${String(i)}`;
      await docker.records.create({ name, labels: { [LABEL.managed]: "true", [LABEL.app]: app } });
      await docker.records.remove(name);
    }
    const after = await lastExecActivity(docker, beforeExecMs - 60_000, Date.now());
    expect(after.byContainer.has(id)).toBe(false);
    expect(after.complete).toBe(false);
    expect(after.heldSinceMs).toBeGreaterThan(beforeExecMs);
  });
});
