import type { Engine } from "../../engines/port.ts";
import { InvalidArgumentError, NotADirectoryError } from "../../errors.ts";
import { FILE_REASONS } from "../supervisor/file-errors.ts";
import { ruleProblem } from "../../rules.ts";
import { shellFileOps } from "./files-shell.ts";
import type { ExecTarget } from "./process.ts";
import { supervisorFileOps } from "../supervisor/files.ts";
import type { FileEntry, FileEvent, FileOps, FileStat } from "../supervisor/file-ops.ts";

/** How `open` opens a file, as Python's open() and Modal's do. */
export type OpenMode = "r" | "w" | "a" | "r+" | "w+" | "a+";

/** Bytes in any form Modal's file API takes them. */
export type FileData = string | Uint8Array | ArrayBuffer;

/** What `read` returns at most unless told otherwise: a file bigger than this is refused, not truncated. */
export const READ_LIMIT_BYTES = 64 * 1024 * 1024;

/**
 * Reads and writes files inside a sandbox, as its user. Failures are typed:
 * NotFoundError, IsADirectoryError, NotADirectoryError, AlreadyExistsError,
 * DirectoryNotEmptyError.
 */
export class SandboxFiles {
  readonly #ops: FileOps;

  /** @internal */
  constructor(docker: Engine, target: ExecTarget) {
    this.#ops = target.supervised ? supervisorFileOps(docker, target.id) : shellFileOps(docker, target);
  }

  /** The whole file; one larger than `maxBytes` (default 64 MiB) is refused rather than cut short. */
  async read(path: string, options: { maxBytes?: number } = {}): Promise<Buffer> {
    const maxBytes = options.maxBytes ?? READ_LIMIT_BYTES;
    if (!Number.isInteger(maxBytes) || maxBytes < 0) {
      throw new InvalidArgumentError(`maxBytes must be a whole number of bytes, got ${String(maxBytes)}`);
    }
    return this.#ops.read(checkedPath(path), maxBytes);
  }

  async readText(path: string, options: { maxBytes?: number } = {}): Promise<string> {
    return (await this.read(path, options)).toString("utf8");
  }

  /** Writes the whole file, making its folder first. */
  async write(path: string, data: FileData): Promise<void> {
    await this.#ops.write(checkedPath(path), bytesOf(data));
  }

  /** A folder's entries, sorted by name; NotADirectoryError for a file, as in Modal. */
  async list(path: string): Promise<FileEntry[]> {
    const checked = checkedPath(path);
    const [entries, stat] = await Promise.all([this.#ops.list(checked), this.#ops.stat(checked)]);
    // A symlink is listed as what it points at: the supervisor follows it.
    if (stat.type === "file" || stat.type === "other") {
      throw new NotADirectoryError(`cannot list ${checked}: ${FILE_REASONS.not_a_directory ?? "is not a folder"}`);
    }
    return entries;
  }

  /** What a path is: its type, size, permission bits, modification time and, for a symlink, its target. */
  async stat(path: string): Promise<FileStat> {
    return this.#ops.stat(checkedPath(path));
  }

  /** Makes a folder; with `parents` (the default), its missing parents too and no complaint if it exists. */
  async mkdir(path: string, options: { parents?: boolean } = {}): Promise<void> {
    await this.#ops.mkdir(checkedPath(path), options.parents ?? true);
  }

  /** A handle on a file, with a position: `read`, `write`, `seek`, `flush`, `close`. */
  async open(path: string, mode: OpenMode = "r"): Promise<SandboxFile> {
    return SandboxFile.open(this.#ops, checkedPath(path), mode);
  }

  /**
   * The changes under a path (a folder's subfolders too with `recursive`), as
   * they happen, until `timeoutMs` passes or `signal` aborts. Needs the
   * supervisor, which has the kernel's inotify watch the path.
   */
  async *watch(
    path: string,
    options: { recursive?: boolean; timeoutMs?: number; signal?: AbortSignal } = {},
  ): AsyncGenerator<FileEvent> {
    const checked = checkedPath(path);
    if (!this.#ops.watch) {
      throw new InvalidArgumentError("watching files needs the supervisor (this sandbox runs without one)");
    }
    const signals = [options.signal, options.timeoutMs ? AbortSignal.timeout(options.timeoutMs) : undefined];
    const signal = AbortSignal.any(signals.filter((s): s is AbortSignal => s !== undefined));
    yield* this.#ops.watch(checked, options.recursive === true, signal);
  }

  /** Copies a file of this machine into the sandbox. */
  async copyFromLocal(localPath: string, sandboxPath: string): Promise<void> {
    const { readFile } = await import("node:fs/promises");
    await this.write(sandboxPath, await readFile(localPath));
  }

  /** Copies a file of the sandbox to this machine (up to `maxBytes`, 1 GiB by default). */
  async copyToLocal(sandboxPath: string, localPath: string, options: { maxBytes?: number } = {}): Promise<void> {
    const { writeFile } = await import("node:fs/promises");
    await writeFile(localPath, await this.read(sandboxPath, { maxBytes: options.maxBytes ?? COPY_LIMIT_BYTES }));
  }

  /**
   * Removes a file, or an empty folder; `recursive` removes a folder with
   * everything in it. A path that does not exist fails unless `force`.
   */
  async remove(path: string, options: { recursive?: boolean; force?: boolean } = {}): Promise<void> {
    const checked = checkedPath(path);
    if (checked === "/") throw new InvalidArgumentError("refusing to remove /");
    await this.#ops.remove(checked, options.recursive === true, options.force === true);
  }
}

/** What copyToLocal reads at most unless told otherwise. */
const COPY_LIMIT_BYTES = 1024 * 1024 * 1024;

/**
 * An open file in a sandbox, as Modal's `open()` gives it: a position that
 * reads and writes move, each call one round trip. Writes go straight to
 * the file (`flush` has nothing to do); a closed handle refuses every call.
 */
export class SandboxFile {
  readonly path: string;
  readonly mode: OpenMode;
  readonly #ops: FileOps;
  #position = 0;
  #closed = false;

  private constructor(ops: FileOps, path: string, mode: OpenMode) {
    this.#ops = ops;
    this.path = path;
    this.mode = mode;
  }

  /** @internal */
  static async open(ops: FileOps, path: string, mode: OpenMode): Promise<SandboxFile> {
    if (!["r", "w", "a", "r+", "w+", "a+"].includes(mode)) {
      throw new InvalidArgumentError(`open mode must be one of r, w, a, r+, w+, a+, got ${JSON.stringify(mode)}`);
    }
    const file = new SandboxFile(ops, path, mode);
    if (mode.startsWith("r"))
      await ops.stat(path); // must exist: NotFoundError, or IsADirectoryError on read
    else if (mode.startsWith("w")) await ops.write(path, new Uint8Array());
    else await ops.writeAt(path, new Uint8Array(), "end");
    return file;
  }

  /** Up to `length` bytes from the position (the rest of the file without a length); the position moves past them. */
  async read(length?: number): Promise<Uint8Array> {
    this.#check(this.mode === "r" || this.mode.endsWith("+"), "read");
    if (length !== undefined && (!Number.isInteger(length) || length < 0)) {
      throw new InvalidArgumentError(`read length must be a whole number of bytes, got ${String(length)}`);
    }
    const data = await this.#ops.readRange(this.path, this.#position, length);
    this.#position += data.length;
    return new Uint8Array(data.buffer, data.byteOffset, data.length);
  }

  /** Writes bytes at the position (at the end in "a" modes); the position moves past them. */
  async write(data: Uint8Array): Promise<void> {
    if (!(data instanceof Uint8Array)) throw new TypeError("SandboxFile.write takes a Uint8Array (or Buffer)");
    this.#check(this.mode !== "r", "write");
    if (this.mode.startsWith("a")) {
      await this.#ops.writeAt(this.path, data, "end");
      this.#position = (await this.#ops.stat(this.path)).sizeBytes;
    } else {
      await this.#ops.writeAt(this.path, data, this.#position);
      this.#position += data.length;
    }
  }

  /** Moves the position: from the start (0), from the current position (1) or from the end (2). */
  async seek(offset: number, whence: 0 | 1 | 2 = 0): Promise<number> {
    this.#check(true, "seek");
    const base = whence === 0 ? 0 : whence === 1 ? this.#position : (await this.#ops.stat(this.path)).sizeBytes;
    if (!Number.isInteger(offset) || base + offset < 0) {
      throw new InvalidArgumentError(`cannot seek to ${String(base + offset)}`);
    }
    this.#position = base + offset;
    return this.#position;
  }

  /** Nothing to do: every write has reached the file. Kept for code written against Modal's handle. */
  async flush(): Promise<void> {
    this.#check(true, "flush");
    return Promise.resolve();
  }

  async close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  #check(allowed: boolean, what: string): void {
    if (this.#closed) throw new InvalidArgumentError(`cannot ${what} ${this.path}: the file is closed`);
    if (!allowed) throw new InvalidArgumentError(`cannot ${what} ${this.path}: it was opened with mode "${this.mode}"`);
  }
}

function checkedPath(path: string): string {
  const reason = ruleProblem("absolutePath", path);
  if (reason) throw new InvalidArgumentError(`path ${JSON.stringify(path)} ${reason}`);
  return path;
}

function bytesOf(data: FileData): Uint8Array {
  if (typeof data === "string") return Buffer.from(data, "utf8");
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return data;
  throw new InvalidArgumentError("file data must be a string, a Uint8Array (or Buffer) or an ArrayBuffer");
}
