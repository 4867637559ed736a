import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSpec } from "../../provider/spec/load.ts";

const corpus = new URL("./spec-corpus/", import.meta.url).pathname;
const examples = new URL("../../examples/", import.meta.url).pathname;

function expectations(text: string): string[] {
  return [...text.matchAll(/^# expect: (.*)$/gm)].map((m) => m[1] ?? "");
}

describe("invalid spec files", () => {
  const files = readdirSync(join(corpus, "invalid")).filter((f) => f.endsWith(".yaml"));

  it.each(files)("%s reports exactly the expected problems", (file) => {
    const text = readFileSync(join(corpus, "invalid", file), "utf8");
    const expected = expectations(text);
    expect(expected.length).toBeGreaterThan(0);
    const result = loadSpec(text, file);
    expect(result.spec).toBeUndefined();
    expect(result.issues.map((i) => `${i.line}:${i.column}  ${i.path}: ${i.reason}`)).toEqual(expected);
    expect(result.issues.every((i) => i.file === file)).toBe(true);
  });
});

describe("valid spec files", () => {
  const files = [
    ...readdirSync(join(corpus, "valid")).map((f) => join(corpus, "valid", f)),
    ...readdirSync(examples, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => join(examples, d.name, "sandfleet.yaml"))
      .filter((path) => existsSync(path)),
  ];

  it.each(files)("%s loads without problems", (path) => {
    const result = loadSpec(readFileSync(path, "utf8"), path);
    expect(result.issues).toEqual([]);
    expect(result.spec?.app).toMatch(/^[A-Za-z0-9]/);
  });
});
