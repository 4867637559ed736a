import { afterEach, describe, expect, it } from "vitest";
import { secretProvider } from "../../provider/resources/secret-provider.ts";
import { sandboxProvider } from "../../provider/resources/sandbox-provider.ts";
import { cleanupApp, docker, uniqueApp } from "../support/engine.ts";

describe("Secret provider and sandboxes that use a secret", () => {
  let app = uniqueApp();
  afterEach(async () => {
    await cleanupApp(app);
    app = uniqueApp();
  });

  it("reports bad keys without ever naming a value", async () => {
    const result = await secretProvider.check({}, { app, name: "s", values: { "BAD-KEY": "hunter2", OK: 5 } });
    expect(result.failures?.map((f) => f.property)).toEqual(["values.BAD-KEY", "values.OK"]);
    expect(JSON.stringify(result.failures)).not.toContain("hunter2");
  });

  it("updates its values in place; the sandboxes that use it are replaced", async () => {
    const olds = { app, name: "s", values: { TOKEN: "one" }, keys: ["TOKEN"] };
    expect(await secretProvider.diff("x", olds, { app, name: "s", values: { TOKEN: "two" } })).toEqual({
      changes: true,
      replaces: [],
    });

    const inputs = (await sandboxProvider.check({}, { app, image: "sandfleet/busybox", secretEnv: { TOKEN: "one" } }))
      .inputs as Record<string, unknown>;
    const created = await sandboxProvider.create(inputs);
    const seen = await docker.exec.run(created.id, { argv: ["sh", "-c", "echo $TOKEN"] });
    expect(seen.stdout).toBe("one\n");
    const diff = await sandboxProvider.diff(created.id, created.outs as Record<string, unknown>, {
      ...inputs,
      secretEnv: { TOKEN: "two" },
    });
    expect(diff).toMatchObject({ changes: true, replaces: ["secretEnv"] });
  });

  it("refuses a variable set both in env and by a secret", async () => {
    const result = await sandboxProvider.check(
      {},
      {
        app,
        image: "sandfleet/busybox",
        env: { TOKEN: "plain" },
        secretEnv: { TOKEN: "secret-value" },
      },
    );
    expect(result.failures).toEqual([
      { property: "env.TOKEN", reason: "is also set by a secret; set it in one place" },
    ]);
    expect(JSON.stringify(result.failures)).not.toContain("secret-value");
  });
});
