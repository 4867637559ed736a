import { afterEach, describe, expect, it } from "vitest";
import { appProvider } from "../../provider/resources/app-provider.ts";
import { Sandbox } from "../../provider/client/sandbox.ts";
import { cleanupApp, docker, leftovers, NOTHING, uniqueApp } from "../support/engine.ts";

describe("App provider against a real engine", () => {
  let app = uniqueApp();
  afterEach(async () => {
    await cleanupApp(app);
    app = uniqueApp();
  });

  it("creates a private, labelled network, reads it, and deletes it with the app's sandboxes", async () => {
    const { inputs } = (await appProvider.check({}, { name: app })) as { inputs: Record<string, unknown> };
    const created = await appProvider.create(inputs);
    const network = await docker.networks.inspect(created.id);
    expect(network).toMatchObject({ name: `sandfleet-${app}`, internal: false, masquerade: false });
    expect(network?.labels).toMatchObject({ "sandfleet.managed": "true", "sandfleet.app": app });

    const read = await appProvider.read(created.id, created.outs);
    expect(read.id).toBe(created.id);

    // A sandbox made at run time on the app's network goes with the app.
    const sandbox = await Sandbox.create({ app, image: "sandfleet/busybox", network: "app" });
    expect((await sandbox.state()).container.networkMode).toBe(`sandfleet-${app}`);

    await appProvider.delete(created.id, created.outs);
    expect(await leftovers(app)).toEqual(NOTHING);
    expect(await appProvider.read(created.id, created.outs)).toEqual({});
  });
});
