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

  it("names the two commands and the test command that CI runs", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const ci = readFileSync(new URL("../../.ci/run", import.meta.url), "utf8");
    expect(readme).toContain("npm run quickstart");
    expect(readme).toContain("npm test");
    expect(ci).toMatch(/^npm test$/m);
  });
});
