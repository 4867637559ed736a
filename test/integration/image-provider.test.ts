import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { imageProvider } from "../../provider/resources/image-provider.ts";
import { ensureImage } from "../../provider/runtime/images/image-build.ts";
import type { ImageParams } from "../../provider/runtime/images/image-recipe.ts";
import { Sandbox } from "../../provider/client/sandbox.ts";
import { cleanupApp, docker, leftovers, NOTHING, uniqueApp } from "../support/engine.ts";

const fixtures = new URL("../fixtures/", import.meta.url).pathname;

describe("Image provider against a real engine", () => {
  let app = uniqueApp();
  const sourceDir = mkdtempSync(join(tmpdir(), "sandfleet-image-src-"));
  cpSync(join(fixtures, "tools"), join(sourceDir, "tools"), { recursive: true });
  afterEach(async () => {
    await cleanupApp(app);
    app = uniqueApp();
  });
  afterAll(() => {
    rmSync(sourceDir, { recursive: true, force: true });
  });

  const recipe = (): Record<string, unknown> => ({
    app,
    name: "tools",
    base: "sandfleet/busybox",
    sourceDir,
    steps: [
      { copy: { src: "tools", dest: "/opt/tools" } },
      { env: { TOOLS: "/opt/tools" } },
      { workdir: "/opt/tools" },
      { run: "ls /sys/class/net > /build-networks" },
    ],
  });

  async function checked(inputs: Record<string, unknown>) {
    const result = await imageProvider.check({}, inputs);
    expect(result.failures ?? []).toEqual([]);
    return result.inputs as Record<string, unknown>;
  }

  it("builds a recipe offline under its content hash, with the steps applied", async () => {
    const inputs = await checked(recipe());
    const lines: string[] = [];
    const state = await ensureImage(docker, inputs as unknown as ImageParams, (l) => lines.push(l));
    expect(state.imageRef).toBe(`sandfleet/${app}/tools:${String(inputs.contentHash).slice(0, 16)}`);
    expect(lines.some((l) => /^Step 2\/\d+ : COPY/.test(l))).toBe(true);

    await using sandbox = await Sandbox.create({ app, image: state.imageRef });
    const result = await sandbox.run(["sh", "-c", 'echo "$TOOLS $(pwd)"; cat /build-networks; ./run.sh; ls -l run.sh']);
    expect(result.stdout).toMatch(/^\/opt\/tools \/opt\/tools\nlo\nrun-me\n-rwx/);
  });

  it("does not rebuild an unchanged recipe, and rebuilds when a copied file changes", async () => {
    const first = await imageProvider.create(await checked(recipe()));
    const again = await checked(recipe());
    expect(await imageProvider.diff(first.id, first.outs as Record<string, unknown>, again)).toMatchObject({
      changes: false,
      replaces: [],
    });
    const lines: string[] = [];
    await ensureImage(docker, again as unknown as ImageParams, (l) => lines.push(l));
    expect(lines).toEqual([]);

    writeFileSync(join(sourceDir, "tools", "hello.py"), 'print("changed")\n');
    const changed = await checked(recipe());
    expect(changed.contentHash).not.toBe(again.contentHash);
    const diff = await imageProvider.diff(first.id, first.outs as Record<string, unknown>, changed);
    expect(diff).toMatchObject({ changes: true, replaces: ["contentHash"], deleteBeforeReplace: false });
    const second = await imageProvider.create(changed);
    expect(second.id).not.toBe(first.id);
  });

  it("names the failing step and the build's own error, and leaves no image", async () => {
    const inputs = await checked({
      ...recipe(),
      steps: [{ run: "echo preparing" }, { run: "echo about to fail >&2; exit 3" }, { run: "echo never" }],
    });
    await expect(imageProvider.create(inputs)).rejects.toThrow(
      /image tools: step 2 of 3 \(run: echo about to fail >&2; exit 3\) failed: .*returned a non-zero code: 3/,
    );
    expect(await leftovers(app)).toEqual(NOTHING);
  });

  it("reports a missing base image in check, before anything is built", async () => {
    const result = await imageProvider.check({}, { ...recipe(), base: "sandfleet/no-such-base:1" });
    expect(result.failures).toEqual([
      {
        property: "base",
        reason: expect.stringContaining('base image "sandfleet/no-such-base:1" not found') as string,
      },
    ]);
  });

  it("reports bad recipes per property", async () => {
    const result = await imageProvider.check(
      {},
      {
        app,
        name: "x",
        base: "sandfleet/busybox",
        sourceDir,
        steps: [
          { copy: { src: "missing-dir", dest: "/x" } },
          { workdir: "relative" },
          { dockerfile: "FROM scratch" },
          { nope: 1 },
        ],
      },
    );
    expect(result.failures?.map((f) => f.property)).toEqual([
      "steps[0].copy.src",
      "steps[1].workdir",
      "steps[2].dockerfile",
      "steps[3]",
    ]);
  });

  it("builds a Dockerfile with its context", async () => {
    const inputs = await checked({
      app,
      name: "from-dockerfile",
      sourceDir: fixtures,
      dockerfile: { path: "dockerfile-context/Dockerfile", context: "dockerfile-context" },
    });
    const created = await imageProvider.create(inputs);
    await using sandbox = await Sandbox.create({ app, image: created.id });
    expect((await sandbox.run(["cat", "/greeting.txt", "/build-networks"])).stdout).toBe("hi from a Dockerfile\nlo\n");
  });

  it("takes an existing reference as is and never deletes it", async () => {
    const inputs = await checked({ app, name: "base", ref: "sandfleet/busybox" });
    const created = await imageProvider.create(inputs);
    expect(created.outs).toMatchObject({ imageRef: "sandfleet/busybox" });
    await imageProvider.delete(created.id, created.outs as Record<string, unknown>);
    expect(await docker.images.inspect("sandfleet/busybox")).toBeDefined();
  });

  it("is seen as gone on read after removal by hand, and delete keeps an image still in use", async () => {
    const created = await imageProvider.create(await checked(recipe()));
    const outs = created.outs as Record<string, unknown>;
    expect((await imageProvider.read(created.id, outs)).id).toBe(created.id);

    const sandbox = await Sandbox.create({ app, image: created.id });
    await imageProvider.delete(created.id, outs);
    expect(await docker.images.inspect(created.id)).toBeDefined();
    await sandbox.remove();
    await imageProvider.delete(created.id, outs);
    expect(await docker.images.inspect(created.id)).toBeUndefined();
    expect(await imageProvider.read(created.id, outs)).toEqual({});
  });
});
