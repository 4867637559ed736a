import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docker } from "../support/engine.ts";
import { PulumiStack } from "../support/pulumi.ts";
import { readFileSync } from "node:fs";

const root = new URL("../../", import.meta.url).pathname;
const hostile = new URL("../unit/spec-corpus/hostile/", import.meta.url).pathname;

// One file of each class that would otherwise have reached the engine.
const SAMPLE = [
  "inject-user-block-scalar.yaml",
  "inject-dockerfile-carriage-return.yaml",
  "nul-env-value.yaml",
  "control-workdir-newline.yaml",
  "mount-dotdot-proc.yaml",
  "tag-key-slash.yaml",
  "size-replicas.yaml",
  "symlink-copy-to-etc.yaml",
  "shape-alias-bomb.yaml",
];

/** Every object on the engine, of every kind: what a refused `up` must leave exactly as it was. */
async function census(): Promise<Record<string, string[]>> {
  const [containers, images, networks, volumes] = await Promise.all([
    docker.containers.list({}),
    docker.images.list({}),
    docker.networks.list({}),
    docker.volumes.list({}),
  ]);
  return {
    containers: containers.map((c) => c.id).sort(),
    images: images.map((i) => i.id).sort(),
    networks: networks.map((n) => n.id).sort(),
    volumes: volumes.map((v) => v.name).sort(),
  };
}

describe("`pulumi up` of hostile files", () => {
  const stack = new PulumiStack(root, `hostile-${randomBytes(4).toString("hex")}`);
  beforeAll(() => stack.init({ "sandfleet:app": `hostile-${randomBytes(4).toString("hex")}` }));
  afterAll(() => stack.dispose());

  it.each(SAMPLE)("%s fails before anything is made, with the positioned message", async (file) => {
    const before = await census();
    await stack.run(["config", "set", "sandfleet:file", join(hostile, file)]);
    const up = await stack.run(["up", "--yes", "--skip-preview"], { allowFailure: true });
    expect(up.code).not.toBe(0);
    const output = up.stdout + up.stderr;
    const firstExpected = /^# expect: \d+:\d+ {2}(.*)$/m.exec(readFileSync(join(hostile, file), "utf8"))?.[1] ?? "";
    expect(firstExpected).not.toBe("");
    // Up names the file by its path from the project, validate by the name it was given.
    expect(output).toContain(firstExpected.split(" the folder of ")[0]);
    expect(output).not.toMatch(/^\s+at .*:\d+:\d+\)?$/m);
    expect(await census()).toEqual(before);
  });
});
