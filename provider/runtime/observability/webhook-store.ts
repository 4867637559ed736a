import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { sha256Hex } from "../../digest.ts";
import { ensurePrivateDir } from "../local/state-dir.ts";

/**
 * The agent's waiting webhook deliveries on disk, one file per delivery:
 * `<root>/r-<receiver>/<seq>.json`, where a receiver is one webhook URL of one
 * app and `seq` orders its deliveries. A file is written whole to a temporary
 * name, flushed, and renamed into place, so a crash leaves either the whole
 * record or none; a record that is unreadable all the same (a torn write on a
 * filesystem that reorders, a file another user left) is skipped and said.
 * Files are 0600 in 0700 directories; they hold event bodies, never a signing
 * key (the key stays in the agent's environment and signs at each attempt).
 */

export interface StoredDelivery {
  /** The `x-sandfleet-delivery` id, the same on every attempt and after restarts. */
  id: string;
  seq: number;
  app: string;
  url: string;
  /** When it was queued (the queue's clock), from which retention counts. */
  queuedMs: number;
  /** The exact body POSTed, so that every attempt sends the same bytes. */
  body: string;
  /** Its size on disk, counted against the receiver's bound. */
  bytes: number;
}

/** Where the watch of the engine's events resumes: the last event taken, and those taken at that same ms. */
export interface StreamCursor {
  timeMs: number;
  keys: string[];
}

const RECORD_NAME = /^(\d{16})\.json$/;
const VERSION = 1;

/** A receiver's directory name: its app and URL, hashed (a URL may carry a token in its path). */
export function receiverKey(app: string, url: string): string {
  return sha256Hex(`${app}\n${url}`).slice(0, 24);
}

export interface LoadedReceiver {
  key: string;
  deliveries: StoredDelivery[];
}

export class WebhookStore {
  readonly root: string;

  /** `root` is made private (0700) here, or refused when others could have written into it. */
  constructor(root: string) {
    this.root = root;
    ensurePrivateDir(root);
  }

  #receiverDir(key: string): string {
    return join(this.root, `r-${key}`);
  }

  /** Writes a delivery and makes sure it is on disk before returning. */
  write(key: string, delivery: Omit<StoredDelivery, "bytes">): StoredDelivery {
    const dir = this.#receiverDir(key);
    ensurePrivateDir(dir);
    const { id, seq, app, url, queuedMs, body } = delivery;
    const text = `${JSON.stringify({ v: VERSION, id, seq, app, url, queuedMs, body })}\n`;
    const name = `${String(seq).padStart(16, "0")}.json`;
    writeWhole(dir, name, text, true);
    return { ...delivery, bytes: Buffer.byteLength(text) };
  }

  remove(key: string, seq: number): void {
    try {
      unlinkSync(join(this.#receiverDir(key), `${String(seq).padStart(16, "0")}.json`));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }

  /**
   * Every waiting delivery, per receiver, in order. `skipped` is told of each
   * file that is not a whole record of this agent's, which is then removed.
   */
  load(skipped: (file: string, why: string, key: string) => void): LoadedReceiver[] {
    const receivers: LoadedReceiver[] = [];
    for (const entry of readdirSync(this.root, { withFileTypes: true })) {
      const match = /^r-([0-9a-f]{24})$/.exec(entry.name);
      if (!match?.[1] || !entry.isDirectory()) continue;
      const key = match[1];
      const dir = this.#receiverDir(key);
      ensurePrivateDir(dir);
      const deliveries: StoredDelivery[] = [];
      for (const name of readdirSync(dir).sort()) {
        const file = join(dir, name);
        if (name.endsWith(".tmp")) {
          // A write a crash cut short: its event was never taken from the stream, which replays it.
          unlinkSync(file);
          continue;
        }
        const seq = RECORD_NAME.exec(name)?.[1];
        if (!seq) continue;
        const read = readRecord(file, key, Number(seq));
        if (typeof read === "string") {
          skipped(file, read, key);
          unlinkSync(file);
        } else deliveries.push(read);
      }
      receivers.push({ key, deliveries });
    }
    return receivers;
  }

  readCursor(): StreamCursor | undefined {
    try {
      const parsed = JSON.parse(readFileSync(join(this.root, "cursor.json"), "utf8")) as Partial<StreamCursor>;
      if (typeof parsed.timeMs !== "number" || !Array.isArray(parsed.keys)) return undefined;
      return { timeMs: parsed.timeMs, keys: parsed.keys.filter((k): k is string => typeof k === "string") };
    } catch {
      return undefined; // none yet, or torn: the watch starts from now
    }
  }

  /**
   * Not flushed: a cursor lost to a crash only replays events, whose
   * deliveries carry the ids they had, and are queued once.
   */
  writeCursor(cursor: StreamCursor): void {
    writeWhole(this.root, "cursor.json", `${JSON.stringify(cursor)}\n`, false);
  }

  /** Names the scope this directory holds, for a person looking at it. */
  describe(what: Record<string, string>): void {
    writeWhole(this.root, "scope.json", `${JSON.stringify(what)}\n`, false);
  }
}

/** Writes to `<name>.tmp`, 0600 and never through a symlink, then renames it to `name`. */
function writeWhole(dir: string, name: string, text: string, durable: boolean): void {
  const tmp = join(dir, `${name}.tmp`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, text);
    if (durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, name));
  if (durable) {
    // The rename itself reaches the disk with the directory.
    const dirFd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  }
}

/** A whole record of this agent's, or why not. */
function readRecord(file: string, key: string, seq: number): StoredDelivery | string {
  let text: string;
  try {
    const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const stat = fstatSync(fd);
      const uid = process.geteuid?.();
      if (!stat.isFile()) return "not a regular file";
      if (uid !== undefined && stat.uid !== uid) return `owned by uid ${String(stat.uid)}, not by the agent's user`;
      if (stat.mode & 0o077) return `readable or writable by others (mode ${(stat.mode & 0o777).toString(8)})`;
      text = readFileSync(fd, "utf8");
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ELOOP" ? "a symlink" : (error as Error).message;
  }
  if (!text.endsWith("\n")) return `torn (${String(Buffer.byteLength(text))} bytes, no end of record)`;
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return "torn (not a whole JSON record)";
  }
  const { v, id, app, url, queuedMs, body } = parsed;
  if (
    v !== VERSION ||
    parsed.seq !== seq ||
    typeof id !== "string" ||
    !/^[0-9a-f]{32}$/.test(id) ||
    typeof app !== "string" ||
    typeof url !== "string" ||
    typeof queuedMs !== "number" ||
    typeof body !== "string"
  )
    return "not a delivery record of this version";
  if (receiverKey(app, url) !== key) return "filed under another receiver";
  return { id, seq, app, url, queuedMs, body, bytes: Buffer.byteLength(text) };
}
