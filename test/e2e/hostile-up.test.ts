import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { leftovers, NOTHING, uniqueApp } from "../support/engine.ts";
import { PulumiStack } from "../support/pulumi.ts";
import { readFileSync } from "node:fs";

const root = new URL("../../", import.meta.url).pathname;
const hostile = new URL("../unit/spec-corpus/hostile/", import.meta.url).pathname;

// One file of each class that would otherwise have reached the engine. Each file's own
// objects would carry the stack's app (config sandfleet:app), so its leftovers are what was made.
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

describe("`pulumi up` of hostile files", () => {
  const stack = new PulumiStack(root, `hostile-${randomBytes(4).toString("hex")}`);
  // Everything sandfleet makes carries its app's label: the app's leftovers are what an up made.
  const app = uniqueApp("hostile");
  beforeAll(() => stack.init({ "sandfleet:app": app }));
  afterAll(() => stack.dispose());

  it.each(SAMPLE)("%s fails before anything is made, with the positioned message", async (file) => {
    await stack.run(["config", "set", "sandfleet:file", join(hostile, file)]);
    const up = await stack.run(["up", "--yes", "--skip-preview"], { allowFailure: true });
    expect(up.code).not.toBe(0);
    const output = up.stdout + up.stderr;
    const firstExpected = /^# expect: \d+:\d+ {2}(.*)$/m.exec(readFileSync(join(hostile, file), "utf8"))?.[1] ?? "";
    expect(firstExpected).not.toBe("");
    // Up names the file by its path from the project, validate by the name it was given.
    expect(output).toContain(firstExpected.split(" the folder of ")[0]);
    expect(output).not.toMatch(/^\s+at .*:\d+:\d+\)?$/m);
    expect(await leftovers(app)).toEqual(NOTHING);
  });
});
