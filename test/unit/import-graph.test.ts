import { relative, sep } from "node:path";
import { describe, expect, it } from "vitest";
import { circlesOf, groupedGraph, sourceImports } from "../support/module-graph.ts";

const provider = new URL("../../provider", import.meta.url).pathname;
const graph = sourceImports(provider);
const named = (file: string) => relative(provider, file);
/**
 * A file's folder under provider/ (client/, engines/, ...), or the file itself when it stands at
 * the top. The runtime is many folders, one per concept (runtime/pools/, runtime/supervisor/, ...),
 * and each counts as a folder of its own.
 */
const folderOf = (file: string) => {
  const [first = "", second = "", ...rest] = named(file).split(sep);
  if (first === "runtime" && rest.length > 0) return `runtime/${second}/`;
  return second ? `${first}/` : first;
};
const inRuntime = (folder: string) => folder.startsWith("runtime/");

// What is built on the runtime: the client, the gateway and dashboard, the
// Pulumi resources, the spec, the CLI and the entry points.
const ABOVE_RUNTIME = ["client/", "serve/", "resources/", "spec/", "cli/", "index.ts", "pulumi.ts", "program.ts"];

describe("provider's imports", () => {
  it("read every source file", () => {
    expect(graph.size).toBeGreaterThan(100);
    expect([...graph.keys()].map(named)).toContain("runtime/sandboxes/sandbox-ops.ts");
  });

  it("keep every runtime file in a folder named for its concept", () => {
    const loose = [...graph.keys()].map(named).filter((file) => folderOf(file) === "runtime/");
    expect(loose).toEqual([]);
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
      const above = (folder: string) =>
        from === "engines/"
          ? ABOVE_RUNTIME.includes(folder) || inRuntime(folder)
          : inRuntime(from) && ABOVE_RUNTIME.includes(folder);
      return targets.filter((target) => above(folderOf(target))).map((target) => `${named(file)} -> ${named(target)}`);
    });
    expect(upward).toEqual([]);
  });
});
