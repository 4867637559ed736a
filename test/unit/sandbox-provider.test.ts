import { describe, expect, it } from "vitest";
import { sandboxDiff, sandboxProvider } from "../../provider/resources/sandbox-provider.ts";

const base = { app: "demo", name: "web", image: "sandfleet/busybox" };

async function checked(inputs: Record<string, unknown>) {
  const result = await sandboxProvider.check({}, inputs);
  expect(result.failures ?? []).toEqual([]);
  return result.inputs as Record<string, unknown>;
}

describe("Sandbox provider check", () => {
  it("reports bad inputs per property", async () => {
    const result = await sandboxProvider.check({}, { app: "demo", image: "i", memoryMiB: 1, workdir: "x" });
    expect(result.failures?.map((f) => f.property).sort()).toEqual(["memoryMiB", "workdir"]);
  });
});

const running = { running: true };

describe("Sandbox provider diff", () => {
  it("sees no change between an up and the next preview", async () => {
    const inputs = await checked(base);
    const outputs = { ...inputs, containerId: "abc", status: "running", running: true };
    const diff = sandboxDiff(outputs, await checked({ ...base }), running);
    expect(diff).toMatchObject({ changes: false, replaces: [] });
  });

  it("sees no change when only map order differs", async () => {
    const olds = await checked({ ...base, env: { A: "1", B: "2" } });
    const diff = sandboxDiff(olds, await checked({ ...base, env: { B: "2", A: "1" } }), running);
    expect(diff.changes).toBe(false);
  });

  it("updates memory, cpu and pids in place", async () => {
    const olds = await checked(base);
    const diff = sandboxDiff(olds, await checked({ ...base, memoryMiB: 1024, cpu: 2, pidsLimit: 10 }), running);
    expect(diff).toMatchObject({ changes: true, replaces: [] });
  });

  it("changes an egress allowlist in place, and replaces for gaining or losing one", async () => {
    const withList = await checked({ ...base, egress: { allow: ["pypi.org"] } });
    const changed = sandboxDiff(
      withList,
      await checked({ ...base, egress: { allow: ["pypi.org", "*.x.org"] } }),
      running,
    );
    expect(changed).toMatchObject({ changes: true, replaces: [] });
    expect(sandboxDiff(await checked(base), withList, running).replaces).toEqual(["egress"]);
    expect(sandboxDiff(withList, await checked(base), running).replaces).toEqual(["egress"]);
  });

  it("replaces on an image change, deleting first to reuse the name", async () => {
    const olds = await checked(base);
    const diff = sandboxDiff(olds, await checked({ ...base, image: "sandfleet/python" }), running);
    expect(diff).toEqual({ changes: true, replaces: ["image"], deleteBeforeReplace: true });
  });

  it("replaces an unnamed sandbox without deleting first", async () => {
    const { name: _name, ...unnamed } = base;
    const olds = await checked(unnamed);
    const diff = sandboxDiff(olds, await checked({ ...unnamed, env: { A: "1" } }), running);
    expect(diff).toEqual({ changes: true, replaces: ["env"], deleteBeforeReplace: false });
  });

  it("replaces a sandbox that a refresh found stopped", async () => {
    const inputs = await checked(base);
    const diff = sandboxDiff({ ...inputs, running: false, status: "exited" }, inputs, running);
    expect(diff).toEqual({ changes: true, replaces: ["running"], deleteBeforeReplace: true });
  });

  it("replaces a sandbox the engine reports stopped or gone, without a refresh", () => {
    const inputs = { ...base, running: true };
    for (const live of [{ running: false }, undefined]) {
      expect(sandboxDiff(inputs, base, live)).toEqual({
        changes: true,
        replaces: ["running"],
        deleteBeforeReplace: true,
      });
    }
  });
});
