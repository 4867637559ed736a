import { closeSync, constants, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { randomHex } from "../../digest.ts";
import { ConflictError } from "../../errors.ts";
import { currentMaker, makerIsGone } from "./maker.ts";

/**
 * A lock on a directory of the agent's own: a file `lock` made only if absent,
 * naming its holder (`host:pid:start:nonce`). A lock whose process is gone
 * (ended, or a zombie) is taken over; one held by a live process refuses.
 * `holds()` tells the holder whether the file still names it, so that in the
 * one race a takeover leaves (two takers of the same stale lock) the one whose
 * lock was moved away learns it and stops.
 */
export class DirLock {
  readonly path: string;
  readonly holder = `${currentMaker()}:${randomHex(4)}`;

  private constructor(dir: string) {
    this.path = join(dir, "lock");
  }

  /** Takes the lock, or fails naming who holds it. Says whether it took over a stale one. */
  static take(dir: string, what: string): { lock: DirLock; tookOver?: string } {
    const lock = new DirLock(dir);
    let tookOver: string | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      if (lock.#create()) return { lock, ...(tookOver ? { tookOver } : {}) };
      const held = readHolder(lock.path);
      if (held === undefined) continue; // removed in between: try again
      if (!makerIsGone(held) && !(unreadableHolder(held) && olderThan(lock.path, UNWRITTEN_LOCK_MS))) {
        const [host, pid] = held.split(":");
        throw new ConflictError(
          `${what} is locked by another process (pid ${pid ?? "?"} on ${host ?? "?"}, lock ${lock.path}); ` +
            `stop it, or give this one a state directory of its own`,
        );
      }
      // Moved aside rather than removed: what was moved is checked to be the stale lock itself.
      const aside = `${lock.path}.stale-${randomHex(4)}`;
      try {
        renameSync(lock.path, aside);
      } catch {
        continue;
      }
      const moved = readHolder(aside);
      unlinkSync(aside);
      if (moved !== held) {
        // Another taker's fresh lock was moved: it notices (holds() turns false) and stops.
        continue;
      }
      tookOver = held;
    }
    throw new ConflictError(`${what}: could not take the lock ${lock.path}; another process keeps taking it`);
  }

  /** Who holds the lock of `dir`, when a live process does (a stale lock names no one). */
  static liveHolder(dir: string): string | undefined {
    const held = readHolder(join(dir, "lock"));
    if (held === undefined || unreadableHolder(held) || makerIsGone(held)) return undefined;
    return held;
  }

  /** Whether the lock file still names this holder. */
  holds(): boolean {
    return readHolder(this.path) === this.holder;
  }

  release(): void {
    if (this.holds()) unlinkSync(this.path);
  }

  #create(): boolean {
    let fd: number;
    try {
      fd = openSync(this.path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw error;
    }
    try {
      writeSync(fd, `${this.holder}\n`);
    } finally {
      closeSync(fd);
    }
    return true;
  }
}

/**
 * A lock is made empty and then written: one still empty (or not a holder's
 * name) after this long was left by a process killed in between.
 */
const UNWRITTEN_LOCK_MS = 10_000;

function unreadableHolder(held: string): boolean {
  return !/^[^:\s]+:\d+:\d+:[0-9a-f]+$/.test(held);
}

function olderThan(path: string, ms: number): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs > ms;
  } catch {
    return false;
  }
}

function readHolder(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}
