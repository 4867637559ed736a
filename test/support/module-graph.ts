import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve, sep } from "node:path";
import { promisify } from "node:util";
import ts from "typescript";

// Imports `specifier` in a fresh Node process and records every module that
// process resolves, ES modules and require()s alike, with a resolve hook
// registered before the import.
const PROBE = `
import { registerHooks } from "node:module";
const seen = [];
registerHooks({
  resolve(specifier, context, next) {
    const result = next(specifier, context);
    seen.push(result.url);
    return result;
  },
});
await import(process.argv[1]);
process.stdout.write(JSON.stringify(seen));
`;

/** Every module URL that importing `specifier` from `cwd` loads. */
export async function moduleGraph(specifier: string, cwd: string): Promise<string[]> {
  const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", PROBE, specifier], {
    cwd,
  });
  return JSON.parse(stdout) as string[];
}

/** The npm packages among those modules, by name. */
export function packagesIn(urls: readonly string[]): string[] {
  const names = urls.flatMap((url) => {
    const match = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
    return match?.[1] ? [match[1]] : [];
  });
  return [...new Set(names)].sort();
}

/**
 * Every TypeScript file under `dir`, each with the files of the tree that it
 * imports by a relative path, as the source says: `import type`, re-exports
 * and `import()` of a literal path count as well, though Node never loads
 * the first two.
 */
export function sourceImports(dir: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const files = readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((file) => /\.tsx?$/.test(file) && !file.split(sep).includes("node_modules"))
    .map((file) => join(dir, file));
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    const targets = importedFiles
      .filter(({ fileName }) => fileName.startsWith("."))
      .map(({ fileName }) => resolve(dirname(file), fileName))
      .filter((target) => existsSync(target) && statSync(target).isFile());
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/**
 * The circles of a graph: each set of nodes that reach one another (the
 * strongly connected components of more than one node, or of one that
 * imports itself), by Tarjan's algorithm.
 */
export function circlesOf(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[][] = [];
  const visit = (node: string) => {
    index.set(node, index.size);
    low.set(node, index.get(node) ?? 0);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(next) ?? 0));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node) ?? 0, index.get(next) ?? 0));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const members: string[] = [];
    for (let member = stack.pop(); member !== undefined; member = stack.pop()) {
      onStack.delete(member);
      members.push(member);
      if (member === node) break;
    }
    if (members.length > 1 || graph.get(node)?.includes(node)) circles.push(members.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return circles;
}

/** The same graph with each node renamed by `groupOf` (a folder, say), and the arrows inside one group left out. */
export function groupedGraph(
  graph: ReadonlyMap<string, readonly string[]>,
  groupOf: (node: string) => string,
): Map<string, string[]> {
  const grouped = new Map<string, string[]>();
  for (const [node, targets] of graph) {
    const from = groupOf(node);
    const arrows = new Set(grouped.get(from));
    for (const target of targets) if (groupOf(target) !== from) arrows.add(groupOf(target));
    grouped.set(from, [...arrows]);
  }
  return grouped;
}
