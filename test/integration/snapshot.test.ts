import { afterEach, describe, expect, it } from "vitest";
import { snapshotProvider } from "../../provider/resources/snapshot-provider.ts";
import { Sandbox } from "../../provider/client/sandbox.ts";
import { cleanupApp, docker, uniqueApp } from "../support/engine.ts";

describe("Snapshot provider against a real engine", () => {
  let app = uniqueApp();
  afterEach(async () => {
    await cleanupApp(app);
    app = uniqueApp();
  });

  it("restores a file written before it, without the source's secret environment", async () => {
    const source = await Sandbox.create({ app, image: "sandfleet/python", user: "sandbox", env: { PLAIN: "p" } });
    await source.run(["sh", "-c", "echo before > /home/sandbox/note"], { check: true });
    const created = await snapshotProvider.create({ app, name: "snap", sandboxId: source.id });
    const imageRef = String((created.outs as Record<string, unknown>).imageRef);
    expect(imageRef).toMatch(new RegExp(`^sandfleet/${app}/snapshots:snap-`));

    const image = await docker.images.inspect(imageRef);
    expect(image?.labels).toMatchObject({
      "sandfleet.kind": "snapshot",
      "sandfleet.app": app,
      "sandfleet.name": "snap",
    });
    expect(image?.env.some((e) => e.startsWith("PLAIN="))).toBe(false);

    await using restored = await Sandbox.create({ app, image: imageRef });
    expect((await restored.run(["cat", "/home/sandbox/note"])).stdout).toBe("before\n");
    expect((await restored.state()).tags).toEqual({});
  });

  it("is seen as gone on read once removed, and delete keeps it while a sandbox uses it", async () => {
    const source = await Sandbox.create({ app, image: "sandfleet/busybox" });
    const created = await snapshotProvider.create({ app, name: "snap", sandboxId: source.id });
    const outs = created.outs as Record<string, unknown>;
    const user = await Sandbox.create({ app, image: created.id });
    await snapshotProvider.delete(created.id, outs);
    expect(await docker.images.inspect(created.id)).toBeDefined();
    await user.remove();
    await snapshotProvider.delete(created.id, outs);
    expect(await snapshotProvider.read(created.id, outs)).toEqual({});
  });

  it("fails clearly for a sandbox that is gone", async () => {
    await expect(snapshotProvider.create({ app, name: "s", sandboxId: "0123456789ab" })).rejects.toThrow(
      "cannot snapshot sandbox 0123456789ab: it no longer exists",
    );
  });
});
