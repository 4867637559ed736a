import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { sandfleet } from "../support/cli.ts";

const hostile = new URL("../unit/spec-corpus/hostile/", import.meta.url).pathname;
const files = readdirSync(hostile).filter((f) => f.endsWith(".yaml"));

function expected(file: string): string[] {
  const text = readFileSync(join(hostile, file), "utf8").replace(/^\uFEFF/, "");
  return [...text.matchAll(/^# expect: (.*)$/gm)].map((m) => `${file}:${m[1] ?? ""}`);
}

describe("`sandfleet validate` on the hostile corpus", () => {
  it("has at least 60 hostile files", () => {
    expect(files.length).toBeGreaterThanOrEqual(60);
  });

  it("refuses every file with its exact positioned messages, exit 1 and no stack trace", async () => {
    const result = await sandfleet(["validate", ...files], { cwd: hostile });
    expect(result.code).toBe(1);
    const lines = result.stderr.trimEnd().split("\n");
    expect(lines.sort()).toEqual(files.flatMap(expected).sort());
    expect(result.stderr + result.stdout).not.toMatch(/^\s+at /m);
  });

  it("says the same as JSON, one file at a time", async () => {
    const sample = ["inject-user-block-scalar.yaml", "mount-dotdot-proc.yaml", "shape-alias-bomb.yaml"];
    for (const file of sample) {
      const result = await sandfleet(["validate", file, "--json"], { cwd: hostile });
      expect(result.code).toBe(1);
      const report = JSON.parse(result.stdout) as { valid: boolean; issues: { file: string; line: number }[] };
      expect(report.valid).toBe(false);
      expect(report.issues.map((i) => i.file)).toEqual(expected(file).map(() => file));
    }
  });
});
