import { afterEach, describe, expect, it } from "vitest";
import { containerName } from "../../provider/runtime/engine-state/names.ts";
import { EngineUnavailableError, NotFoundError } from "../../provider/errors.ts";
import { sandboxProvider } from "../../provider/resources/sandbox-provider.ts";
import { cleanupApp, docker, leftovers, NOTHING, uniqueApp } from "../support/engine.ts";

describe("Sandbox provider against a real engine", () => {
  let app = uniqueApp();
  afterEach(async () => {
    await cleanupApp(app);
    app = uniqueApp();
  });

  async function create(extra: Record<string, unknown> = {}) {
    const checked = await sandboxProvider.check({}, { app, name: "box", image: "sandfleet/busybox", ...extra });
    expect(checked.failures ?? []).toEqual([]);
    const inputs = checked.inputs as Record<string, unknown>;
    const created = await sandboxProvider.create(inputs);
    return { inputs, id: created.id, outs: created.outs as Record<string, unknown> };
  }

  it("creates a locked-down, labelled, running container", async () => {
    const { id, outs } = await create({ memoryMiB: 64, pidsLimit: 32, cpu: 0.5, tags: { team: "t" } });
    expect(outs).toMatchObject({ containerId: id, containerName: containerName(app, "box"), status: "running" });
    const info = await docker.containers.inspect(id);
    expect(info).toMatchObject({
      running: true,
      networkMode: "none",
      capDrop: ["ALL"],
      securityOpt: ["no-new-privileges"],
      privileged: false,
      memoryBytes: 64 * 1024 * 1024,
      pidsLimit: 32,
      nanoCpus: 500_000_000,
      binds: [],
    });
    expect(info?.labels).toMatchObject({
      "sandfleet.managed": "true",
      "sandfleet.app": app,
      "sandfleet.kind": "sandbox",
      "sandfleet.name": "box",
      "sandfleet.tag.team": "t",
    });
  });

  it("reads the live state, sees limits changed behind its back, and sees a removed container as gone", async () => {
    const { id, outs } = await create();
    const read = await sandboxProvider.read(id, outs);
    expect(read.id).toBe(id);
    expect(read.inputs).toMatchObject({ memoryMiB: 512, cpu: 1, pidsLimit: 256 });

    await docker.containers.update(id, { memoryBytes: 256 * 1024 * 1024 });
    const drifted = await sandboxProvider.read(id, outs);
    expect(drifted.inputs).toMatchObject({ memoryMiB: 256 });
    const diff = await sandboxProvider.diff(id, drifted.props ?? {}, outs);
    expect(diff).toMatchObject({ changes: true, replaces: [] });

    await docker.containers.remove(id);
    expect(await sandboxProvider.read(id, outs)).toEqual({});
  });

  it("reports a container that exited", async () => {
    const { id, outs } = await create({ command: ["sh", "-c", "exit 3"] });
    expect(await docker.containers.wait(id)).toBe(3);
    const read = await sandboxProvider.read(id, outs);
    expect(read.props).toMatchObject({ status: "exited", running: false, exitCode: 3 });
  });

  it("updates limits in place, keeping the same container", async () => {
    const { id, inputs, outs } = await create();
    const news = { ...inputs, memoryMiB: 128, pidsLimit: 64 };
    const updated = await sandboxProvider.update(id, outs, news);
    expect(updated.outs).toMatchObject({ containerId: id, memoryMiB: 128 });
    expect(await docker.containers.inspect(id)).toMatchObject({ memoryBytes: 128 * 1024 * 1024, pidsLimit: 64 });
  });

  it("deletes the container, and deleting again is fine", async () => {
    const { id, outs } = await create();
    await sandboxProvider.delete(id, outs);
    expect(await docker.containers.inspect(id)).toBeUndefined();
    await sandboxProvider.delete(id, outs);
    expect(await leftovers(app)).toEqual(NOTHING);
  });

  it("fails clearly on a missing image and leaves nothing behind", async () => {
    const attempt = create({ image: "sandfleet/does-not-exist:1" });
    await expect(attempt).rejects.toThrow(NotFoundError);
    await expect(attempt).rejects.toThrow(/image "sandfleet\/does-not-exist:1" not found .* never pulls/);
    expect(await leftovers(app)).toEqual(NOTHING);
  });

  it("fails clearly when the name is taken and leaves the other sandbox alone", async () => {
    const first = await create();
    await expect(create()).rejects.toThrow(`sandbox name "box" is already taken in app "${app}"`);
    expect((await leftovers(app)).containers).toEqual([containerName(app, "box")]);
    expect((await docker.containers.inspect(first.id))?.running).toBe(true);
  });

  it("runs a sandbox under gVisor", async () => {
    const { id } = await create({ runtime: "runsc" });
    const info = await docker.containers.inspect(id);
    expect(info?.runtime).toBe("runsc");
    const result = await docker.exec.run(id, { argv: ["dmesg"] });
    expect(result.stdout).toMatch(/gVisor/);
  });

  it("says which engine it could not reach", async () => {
    const attempt = create({ dockerHost: "unix:///run/sandfleet-no-such-engine.sock" });
    await expect(attempt).rejects.toBeInstanceOf(EngineUnavailableError);
    await expect(attempt).rejects.toThrow(
      /the Docker engine at unix:\/\/\/run\/sandfleet-no-such-engine.sock is unreachable \(ENOENT\)/,
    );
  });
});
