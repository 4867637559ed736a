import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { projectDirectory } from "../../provider/spec/project-dir.ts";

describe("the project directory of a running program", () => {
  const root = mkdtempSync(join(tmpdir(), "sandfleet-project-"));
  writeFileSync(join(root, "Pulumi.yaml"), "name: outer\nruntime: nodejs\n");
  const inner = join(root, "examples", "inner");
  mkdirSync(join(inner, "src"), { recursive: true });
  writeFileSync(join(inner, "Pulumi.yaml"), "name: inner\nruntime: nodejs\n");

  it("is the root directory the SDK was given, when there is one", () => {
    expect(projectDirectory("inner", inner, root)).toBe(inner);
  });

  it("is the nearest ancestor whose Pulumi.yaml names the project", () => {
    expect(projectDirectory("inner", "", join(inner, "src"))).toBe(inner);
    expect(projectDirectory("outer", "rootDirectory", join(inner, "src"))).toBe(root);
  });
});
