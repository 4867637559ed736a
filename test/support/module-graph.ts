import { execFile } from "node:child_process";
import { promisify } from "node:util";

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
