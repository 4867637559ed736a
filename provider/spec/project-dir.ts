import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { parse } from "yaml";

/**
 * The directory of the running stack's Pulumi.yaml. Language hosts start the
 * program in the directory of its `main` file, which need not be the project
 * directory, and not every host passes the project directory on. So: the
 * root directory the SDK was given, when it is one; else the nearest
 * ancestor of the working directory whose Pulumi.yaml names this project.
 */
export function projectDirectory(project: string, sdkRootDirectory: string, cwd: string = process.cwd()): string {
  if (isAbsolute(sdkRootDirectory) && existsSync(join(sdkRootDirectory, "Pulumi.yaml"))) return sdkRootDirectory;
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    if (projectNameAt(dir) === project) return dir;
    if (dirname(dir) === dir) return resolve(cwd);
  }
}

function projectNameAt(dir: string): string | undefined {
  const file = join(dir, "Pulumi.yaml");
  if (!existsSync(file)) return undefined;
  try {
    const doc = parse(readFileSync(file, "utf8")) as { name?: unknown } | null;
    return typeof doc?.name === "string" ? doc.name : undefined;
  } catch {
    return undefined;
  }
}
