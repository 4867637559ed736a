import { chmodSync, lstatSync, mkdirSync, type Stats } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { SandfleetError } from "../../errors.ts";

/**
 * Where sandfleet keeps what a process of its own must find again after a
 * restart (the agent's waiting webhook deliveries): $SANDFLEET_STATE_DIR, else
 * $XDG_STATE_HOME/sandfleet, else ~/.local/state/sandfleet.
 */
export function defaultStateDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  if (env.SANDFLEET_STATE_DIR) return resolve(env.SANDFLEET_STATE_DIR);
  // The XDG base directory rules ignore a relative path.
  const xdg = env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : undefined;
  return join(xdg ?? join(homedir(), ".local", "state"), "sandfleet");
}

/**
 * Makes a directory of sandfleet's own (and its parents) if missing, and makes
 * sure only this process's user can list, read or write it: a directory, not
 * a symlink, owned by this user, mode 0700. One that others can write (or
 * that another user owns) is refused, since files may already have been
 * planted in it; one others can only read is narrowed to 0700.
 */
export function ensurePrivateDir(dir: string): void {
  const stat = checkedDir(dir, [process.geteuid?.()]);
  const mode = stat.mode & 0o777;
  if (mode !== 0o700) chmodSync(dir, 0o700);
}

/**
 * The state directory itself, which an operator may have made (or named an
 * existing one): made 0700 if missing, and otherwise left as it is, but
 * refused when it is a symlink, belongs to a user other than this one or
 * root, or others can write it (they could swap sandfleet's directories inside).
 */
export function ensureStateDir(dir: string): void {
  checkedDir(dir, [process.geteuid?.(), 0]);
}

function checkedDir(dir: string, owners: (number | undefined)[]): Stats {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new SandfleetError(`cannot make the state directory ${dir}: ${(error as Error).message}`);
  }
  const stat = lstatSync(dir);
  const uid = process.geteuid?.();
  if (stat.isSymbolicLink())
    throw new SandfleetError(`${dir} is a symlink; sandfleet keeps its state only in a real directory`);
  if (!stat.isDirectory()) throw new SandfleetError(`${dir} is not a directory`);
  if (uid !== undefined && !owners.includes(stat.uid))
    throw new SandfleetError(
      `${dir} belongs to uid ${String(stat.uid)}, not to this user (uid ${String(uid)}); sandfleet keeps its state only in a directory of its own`,
    );
  const mode = stat.mode & 0o777;
  if (mode & 0o022)
    throw new SandfleetError(
      `${dir} can be written by others (mode ${mode.toString(8).padStart(4, "0")}); what is in it may not be sandfleet's: empty it and chmod 700 it`,
    );
  return stat;
}
