import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSpec } from "../../provider/spec/load.ts";

const corpus = new URL("./spec-corpus/", import.meta.url).pathname;
const examples = new URL("../../examples/", import.meta.url).pathname;

function expectations(text: string): string[] {
  return [...text.matchAll(/^# expect: (.*)$/gm)].map((m) => m[1] ?? "");
}

describe.each(["invalid", "hostile"])("%s spec files", (folder) => {
  const files = readdirSync(join(corpus, folder)).filter((f) => f.endsWith(".yaml"));

  it.each(files)("%s reports exactly the expected problems", (file) => {
    // Bytes, as `sandfleet validate` reads them: some files are not UTF-8 on purpose.
    const bytes = readFileSync(join(corpus, folder, file));
    const text = bytes.toString("utf8").replace(/^\uFEFF/, "");
    // The spec's folder is the corpus folder: copy sources and symlinks resolve there.
    const result = loadSpec(bytes, file, join(corpus, folder));
    const expected = expectations(text);
    expect(expected.length).toBeGreaterThan(0);
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

describe("hostile spec files made at test time", () => {
  it("refuses a file over 1 MiB before parsing it", () => {
    const text = `app: demo\n# ${"x".repeat(1024 * 1024)}\n`;
    expect(loadSpec(text, "big.yaml").issues).toEqual([
      {
        file: "big.yaml",
        line: 1,
        column: 1,
        path: "(file)",
        reason: `is ${String(text.length)} bytes; a sandfleet.yaml may have at most 1048576`,
      },
    ]);
  });

  it("refuses 20,000 sandboxes at the section, with one message", () => {
    const entries = Array.from({ length: 20_000 }, (_, i) => `  s${String(i)}: { image: sandfleet/busybox }\n`);
    const result = loadSpec(`app: demo\nsandboxes:\n${entries.join("")}`, "many.yaml");
    expect(result.issues.map((i) => `${String(i.line)}:${String(i.column)}  ${i.path}: ${i.reason}`)).toEqual([
      "2:1  sandboxes: must have at most 200 entries (has 20000)",
    ]);
  });

  it.each([
    ["100,000 [", `app: demo\nx: ${"[".repeat(100_000)}`, "2:35"],
    ["100,000 closed [", `app: demo\nx: ${"[".repeat(100_000)}1${"]".repeat(100_000)}`, "2:35"],
    ["100,000 {a:", `app: demo\nx: ${"{a: ".repeat(100_000)}1`, "2:128"],
    ["100,000 - ", `app: demo\nx:\n${"- ".repeat(100_000)}x`, "3:63"],
    ["100,000 ? ", `app: demo\nx:\n${"? ".repeat(100_000)}x`, "3:65"],
  ])("refuses nesting of %s at its place, without overflowing a stack", (_what, text, at) => {
    const result = loadSpec(text, "deep.yaml", "/tmp");
    expect(result.issues.map((i) => `${String(i.line)}:${String(i.column)}  ${i.path}: ${i.reason}`)).toEqual([
      `${at}  syntax: nested more than 32 levels deep`,
    ]);
  });
});
