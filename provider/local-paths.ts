import { realpathSync, statSync } from "node:fs";
import { isAbsolute, relative, resolve, sep } from "node:path";

/**
 * Files an image takes must lie in the folder of what declares them (the
 * spec's folder, or the `sourceDir` of an Image): a reviewed file must not be
 * able to copy /etc/shadow or ../../.ssh into an image, not even through a
 * symlink that points outside. Returns why the path is refused, or undefined.
 */
export function localPathProblem(
  dir: string,
  path: string,
  kind: "file or folder" | "file" | "folder" = "file or folder",
  /** How messages name the folder and what paths are relative to, e.g. "the folder of sandfleet.yaml". */
  names: { folder: string; relativeTo: string } = { folder: dir, relativeTo: dir },
): string | undefined {
  const outside = `${path} is outside ${names.folder}; files an image takes must lie beside it`;
  if (isAbsolute(path) || isOutside(dir, resolve(dir, path))) return outside;
  let real: string;
  try {
    real = realpathSync(resolve(dir, path));
  } catch {
    return `${path} does not exist (relative to ${names.relativeTo})`;
  }
  if (isOutside(realpathSync(dir), real)) {
    return `${path} leads outside ${names.folder} through a symlink; files an image takes must lie beside it`;
  }
  const stat = statSync(real);
  if (kind === "file" && !stat.isFile()) return `${path} is not a file`;
  if (kind === "folder" && !stat.isDirectory()) return `${path} is not a folder`;
  return undefined;
}

function isOutside(dir: string, full: string): boolean {
  const within = relative(dir, full);
  return within === ".." || within.startsWith(`..${sep}`) || isAbsolute(within);
}
