import { relative, sep } from "node:path";
import { describe, expect, it } from "vitest";
import { circlesOf, groupedGraph, sourceImports } from "../support/module-graph.ts";

const provider = new URL("../../provider", import.meta.url).pathname;
const graph = sourceImports(provider);
const named = (file: string) => relative(provider, file);
/** A file's folder under provider/ (runtime/, client/, ...), or the file itself when it stands at the top. */
const folderOf = (file: string) => {
  const [first = "", ...rest] = named(file).split(sep);
  return rest.length > 0 ? `${first}/` : first;
};

// What is built on the runtime: the client, the gateway and dashboard, the
// Pulumi resources, the spec, the CLI and the entry points.
const ABOVE_RUNTIME = ["client/", "serve/", "resources/", "spec/", "cli/", "index.ts", "pulumi.ts", "program.ts"];

describe("provider's imports", () => {
  it("read every source file", () => {
    expect(graph.size).toBeGreaterThan(100);
    expect([...graph.keys()].map(named)).toContain("runtime/sandbox.ts");
  });

  it("make no circle of files", () => {
    expect(circlesOf(graph).map((circle) => circle.map(named))).toEqual([]);
  });

  it("make no circle of folders: each stands on those below it", () => {
    expect(circlesOf(groupedGraph(graph, folderOf))).toEqual([]);
  });

  it("run from the runtime down to the engines, never back up", () => {
    const upward = [...graph].flatMap(([file, targets]) => {
      const from = folderOf(file);
      const above = from === "engines/" ? [...ABOVE_RUNTIME, "runtime/"] : from === "runtime/" ? ABOVE_RUNTIME : [];
      return targets
        .filter((target) => above.includes(folderOf(target)))
        .map((target) => `${named(file)} -> ${named(target)}`);
    });
    expect(upward).toEqual([]);
  });
});
