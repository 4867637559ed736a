import { mkdirSync, realpathSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";

/**
 * Where the installed command keeps Node's compiled code of its bundle:
 * $XDG_CACHE_HOME/sandfleet/node-compile-cache, else ~/.cache/..., made
 * where missing. Node runs what it finds there as code, so the folder is
 * used only when it and every folder above it belong to this user (or root)
 * and no one else can write them: a cache in a folder another user can
 * change (Node's default, in the shared temporary directory, or the home
 * of the user who ran `sudo`) is code of theirs run as this user.
 * Undefined when there is none fit to use: the command then compiles its
 * bundle each run.
 */
export function compileCacheDir(
  env: NodeJS.ProcessEnv = process.env,
  uid: number | undefined = process.getuid?.(),
): string | undefined {
  const xdg = env.XDG_CACHE_HOME;
  const home = xdg && isAbsolute(xdg) ? xdg : join(homedir(), ".cache");
  // The home is looked at before anything is made in it, the whole path again once it is made.
  if (!makeDir(home) || !ownedAlone(home, uid)) return undefined;
  const dir = join(home, "sandfleet", "node-compile-cache");
  if (!makeDir(dirname(dir)) || !makeDir(dir) || !ownedAlone(dir, uid)) return undefined;
  return realpathSync(dir);
}

/**
 * Whether the folder and every folder above it are this user's or root's,
 * and no one else can change what they hold: the folder itself writable by
 * no one else; a folder above it may be writable by all if it is sticky
 * (/tmp), where no one else can rename or remove what is this user's.
 */
function ownedAlone(path: string, uid: number | undefined): boolean {
  if (uid === undefined) return true; // no users to tell apart (Windows)
  const real = realpathSync(path);
  for (let at = real; ; at = dirname(at)) {
    const stat = statSync(at);
    const othersWrite = (stat.mode & 0o022) !== 0 && (at === real || (stat.mode & 0o1000) === 0);
    if (!stat.isDirectory() || (stat.uid !== uid && stat.uid !== 0) || othersWrite) return false;
    if (dirname(at) === at) return true;
  }
}

/**
 * Makes one folder, never `recursive`: Node's recursive mkdir never returns
 * under some paths (a missing folder of /proc). True when it is there.
 */
function makeDir(dir: string): boolean {
  try {
    mkdirSync(dir, { mode: 0o700 });
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EEXIST";
  }
}
