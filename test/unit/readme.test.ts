import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { withReference } from "../../provider/spec/schema-docs.ts";
import { withRules } from "../../provider/spec/schema-rules.ts";

describe("the README", () => {
  it("documents sandfleet.yaml exactly as the schema says (run `npm run docs` after changing it)", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const schema = JSON.parse(
      readFileSync(new URL("../../schema/sandfleet.schema.json", import.meta.url), "utf8"),
    ) as object;
    expect(readme).toBe(withReference(readme, schema));
  });

  it("holds the schema's rules and limits exactly as provider/rules.ts states them (run `npm run docs`)", () => {
    const schema = JSON.parse(
      readFileSync(new URL("../../schema/sandfleet.schema.json", import.meta.url), "utf8"),
    ) as Record<string, unknown>;
    expect(schema).toEqual(withRules(schema));
  });

  it("asks, wherever it names a version of sandfleet, for one that includes this one", () => {
    const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    const [major, minor] = version.split(".");
    const files = ["../../README.md", "../../examples/gitops/package.json", "../../examples/gitops/README.md"];
    const ranges = files.flatMap((file) =>
      [...readFileSync(new URL(file, import.meta.url), "utf8").matchAll(/"sandfleet":\s*"([^"]+)"/g)].map((m) => m[1]),
    );
    const lock = JSON.parse(
      readFileSync(new URL("../../examples/gitops/package-lock.json", import.meta.url), "utf8"),
    ) as {
      packages: Record<string, { dependencies?: Record<string, string> }>;
    };
    ranges.push(lock.packages[""]?.dependencies?.sandfleet);
    expect(ranges.length).toBeGreaterThan(1);
    // Before 1.0 a caret range holds one minor version: ^0.5.0 takes 0.5.x, never 0.6.
    for (const range of ranges) expect(range).toBe(major === "0" ? `^0.${minor ?? ""}.0` : `^${major ?? ""}.0.0`);
  });

  it("names the two commands and the test command that CI runs", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const ci = readFileSync(new URL("../../.ci/run", import.meta.url), "utf8");
    expect(readme).toContain("npm run quickstart");
    expect(readme).toContain("npm test");
    expect(ci).toMatch(/^npm test$/m);
  });
});
