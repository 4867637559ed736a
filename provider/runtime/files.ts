import type { DockerClient } from "../docker/client.ts";
import { InvalidArgumentError } from "../errors.ts";
import { ruleProblem } from "../rules.ts";
import { shellFileOps } from "./files-shell.ts";
import type { ExecTarget } from "./process.ts";
import { supervisorFileOps } from "./supervisor/files.ts";

export interface FileEntry {
  name: string;
  type: "file" | "directory" | "symlink" | "other";
  sizeBytes: number;
  /** Where a symlink points. */
  target?: string;
}

export interface FileStat extends FileEntry {
  /** Permission bits, e.g. 0o644. */
  mode: number;
  /** Last modification (ISO 8601). */
  modifiedAt: string;
}

/** Bytes in any form Modal's file API takes them. */
export type FileData = string | Uint8Array | ArrayBuffer;

/** What `read` returns at most unless told otherwise: a file bigger than this is refused, not truncated. */
export const READ_LIMIT_BYTES = 64 * 1024 * 1024;

/**
 * The file operations, as each path does them: the supervisor itself, or
 * the sandbox's own tools (sh, cat, stat) through the engine. Paths arrive
 * checked; failures are the typed errors of errors.ts.
 */
export interface FileOps {
  read(path: string, maxBytes: number): Promise<Buffer>;
  write(path: string, data: Uint8Array): Promise<void>;
  list(path: string): Promise<FileEntry[]>;
  stat(path: string): Promise<FileStat>;
  mkdir(path: string, parents: boolean): Promise<void>;
  remove(path: string, recursive: boolean, force: boolean): Promise<void>;
}

/**
 * Reads and writes files inside a sandbox, as its user. Failures are typed:
 * NotFoundError, IsADirectoryError, NotADirectoryError, AlreadyExistsError,
 * DirectoryNotEmptyError.
 */
export class SandboxFiles {
  readonly #ops: FileOps;

  /** @internal */
  constructor(docker: DockerClient, target: ExecTarget) {
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

  /** A folder's entries, sorted by name; a file (or symlink) lists as itself. */
  async list(path: string): Promise<FileEntry[]> {
    return this.#ops.list(checkedPath(path));
  }

  /** What a path is: its type, size, permission bits, modification time and, for a symlink, its target. */
  async stat(path: string): Promise<FileStat> {
    return this.#ops.stat(checkedPath(path));
  }

  /** Makes a folder; with `parents` (the default), its missing parents too and no complaint if it exists. */
  async mkdir(path: string, options: { parents?: boolean } = {}): Promise<void> {
    await this.#ops.mkdir(checkedPath(path), options.parents ?? true);
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
