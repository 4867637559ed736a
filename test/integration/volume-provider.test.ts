import { afterEach, describe, expect, it } from "vitest";
import { volumeName } from "../../provider/runtime/engine-state/names.ts";
import { volumeProvider } from "../../provider/resources/volume-provider.ts";
import { Sandbox } from "../../provider/client/sandbox.ts";
import { cleanupApp, docker, leftovers, NOTHING, uniqueApp } from "../support/engine.ts";

describe("Volume provider against a real engine", () => {
  let app = uniqueApp();
  afterEach(async () => {
    await cleanupApp(app);
    app = uniqueApp();
  });

  async function create(extra: Record<string, unknown> = {}) {
    const { inputs } = (await volumeProvider.check({}, { app, name: "data", ...extra })) as {
      inputs: Record<string, unknown>;
    };
    const created = await volumeProvider.create(inputs);
    return { id: created.id, outs: created.outs as Record<string, unknown> };
  }

  it("keeps data across the sandboxes that use it, including a replacement", async () => {
    const volume = await create();
    expect(volume.id).toBe(volumeName(app, "data"));
    expect((await docker.volumes.inspect(volume.id))?.labels).toMatchObject({ "sandfleet.app": app });

    const writer = await Sandbox.create({
      app,
      name: "box",
      image: "sandfleet/busybox",
      volumes: [{ mountPath: "/data", volume: volume.id }],
    });
    await writer.run(["sh", "-c", "echo kept > /data/file"], { check: true });
    await writer.remove();

    const reader = await Sandbox.create({
      app,
      name: "box",
      image: "sandfleet/python",
      volumes: [{ mountPath: "/data", volume: volume.id, readOnly: true }],
    });
    expect((await reader.run(["cat", "/data/file"])).stdout).toBe("kept\n");
    const write = await reader.run(["sh", "-c", "echo x > /data/other"]);
    expect(write.stderr).toMatch(/Read-only file system/);
    await reader.remove();
  });

  it("refuses to mount a volume that does not exist rather than making one", async () => {
    await expect(
      Sandbox.create({
        app,
        image: "sandfleet/busybox",
        volumes: [{ mountPath: "/data", volume: volumeName(app, "typo") }],
      }),
    ).rejects.toThrow(`volume "${volumeName(app, "typo")}" (for /data) not found`);
    expect(await leftovers(app)).toEqual(NOTHING);
  });

  it("is seen as gone after removal by hand, and deleted unless retained", async () => {
    const volume = await create();
    await docker.volumes.remove(volume.id);
    expect(await volumeProvider.read(volume.id, volume.outs)).toEqual({});

    const again = await create();
    await volumeProvider.delete(again.id, again.outs);
    expect(await docker.volumes.inspect(again.id)).toBeUndefined();
  });

  it("keeps a retained volume on delete, and takes its data back when made again", async () => {
    const volume = await create({ retainOnDelete: true });
    const sandbox = await Sandbox.create({
      app,
      image: "sandfleet/busybox",
      volumes: [{ mountPath: "/d", volume: volume.id }],
    });
    await sandbox.run(["sh", "-c", "echo survived > /d/f"], { check: true });
    await sandbox.remove();
    await volumeProvider.delete(volume.id, volume.outs);
    expect(await docker.volumes.inspect(volume.id)).toBeDefined();

    const adopted = await create({ retainOnDelete: true });
    const reader = await Sandbox.create({
      app,
      image: "sandfleet/busybox",
      volumes: [{ mountPath: "/d", volume: adopted.id }],
    });
    expect((await reader.run(["cat", "/d/f"])).stdout).toBe("survived\n");
  });

  it("changes retention without replacing the volume", async () => {
    const volume = await create();
    const news = { ...volume.outs, retainOnDelete: true };
    expect(await volumeProvider.diff(volume.id, volume.outs, news)).toMatchObject({ changes: true, replaces: [] });
  });
});
