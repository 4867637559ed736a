import type { DockerClient } from "../docker/client.ts";
import {
  AlreadyExistsError,
  DirectoryNotEmptyError,
  InvalidArgumentError,
  IsADirectoryError,
  NotADirectoryError,
  NotFoundError,
  SandfleetError,
} from "../errors.ts";
import { ruleProblem } from "../rules.ts";
import { SandboxProcess } from "./process.ts";

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

// The scripts below end with these codes when a path is not what the call needs.
const CODES: Record<number, (message: string) => SandfleetError> = {
  2: (m) => new NotFoundError(m),
  3: (m) => new IsADirectoryError(m),
  4: (m) => new NotADirectoryError(m),
  5: (m) => new AlreadyExistsError(m),
  6: (m) => new DirectoryNotEmptyError(m),
  7: (m) => new InvalidArgumentError(m),
};
const REASONS: Record<number, string> = {
  2: "no such file or folder",
  3: "is a folder",
  4: "is not a folder, or a part of it is a file",
  5: "already exists",
  6: "is a folder that is not empty; pass { recursive: true } to remove it with everything in it",
};

// `entry NAME PATH`: one record, NUL-terminated: type, size, target, name.
const ENTRY = `entry() {
  if [ -L "$2" ]; then t=link; else t=$(stat -c %F -- "$2"); fi
  printf '%s\\t%s\\t%s\\t%s\\0' "$t" "$(stat -c %s -- "$2")" "$(readlink -- "$2" 2>/dev/null)" "$1"
}`;

/**
 * Reads and writes files inside a sandbox, through its own tools (sh, cat,
 * stat), as its user. Failures are typed: NotFoundError, IsADirectoryError,
 * NotADirectoryError, AlreadyExistsError, DirectoryNotEmptyError.
 */
export class SandboxFiles {
  readonly #docker: DockerClient;
  readonly #containerId: string;

  /** @internal */
  constructor(docker: DockerClient, containerId: string) {
    this.#docker = docker;
    this.#containerId = containerId;
  }

  /** The whole file; one larger than `maxBytes` (default 64 MiB) is refused rather than cut short. */
  async read(path: string, options: { maxBytes?: number } = {}): Promise<Buffer> {
    const maxBytes = options.maxBytes ?? READ_LIMIT_BYTES;
    const script = `[ -e "$1" ] || exit 2; [ -d "$1" ] && exit 3
size=$(stat -c %s -- "$1"); [ "$size" -gt "$2" ] && { echo "$size" >&2; exit 7; }
exec cat -- "$1"`;
    const out = await (await this.#run(["sh", "-c", script, "sh", checkedPath(path), String(maxBytes)])).outputBytes();
    if (out.exitCode === 7) {
      throw new InvalidArgumentError(
        `cannot read ${path}: it has ${out.stderr.trim()} bytes, more than maxBytes (${String(maxBytes)})`,
      );
    }
    if (out.exitCode !== 0) throw fileError("read", path, out.exitCode, out.stderr);
    return out.stdout;
  }

  async readText(path: string, options: { maxBytes?: number } = {}): Promise<string> {
    return (await this.read(path, options)).toString("utf8");
  }

  /** Writes the whole file, making its folder first. */
  async write(path: string, data: FileData): Promise<void> {
    const script = `[ -d "$1" ] && exit 3
mkdir -p -- "$(dirname -- "$1")" 2>/dev/null || exit 4
cat > "$1"`;
    const process = await this.#run(["sh", "-c", script, "sh", checkedPath(path)], true);
    process.stdin.end(bytesOf(data));
    const out = await process.output();
    if (out.exitCode !== 0) throw fileError("write", path, out.exitCode, out.stderr);
  }

  /** A folder's entries, sorted by name; a file (or symlink) lists as itself. */
  async list(path: string): Promise<FileEntry[]> {
    const script = `${ENTRY}
[ -e "$1" ] || [ -L "$1" ] || exit 2
if [ -d "$1" ] && [ ! -L "$1" ]; then
  cd -- "$1" || exit 2
  for f in * .[!.]* ..?*; do [ -e "$f" ] || [ -L "$f" ] || continue; entry "$f" "$f"; done
else entry "$(basename -- "$1")" "$1"; fi`;
    const out = await (await this.#run(["sh", "-c", script, "sh", checkedPath(path)])).output();
    if (out.exitCode !== 0) throw fileError("list", path, out.exitCode, out.stderr);
    return out.stdout
      .split("\0")
      .filter(Boolean)
      .map(parseEntry)
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** What a path is: its type, size, permission bits, modification time and, for a symlink, its target. */
  async stat(path: string): Promise<FileStat> {
    const script = `${ENTRY}
[ -e "$1" ] || [ -L "$1" ] || exit 2
entry "$(basename -- "$1")" "$1"; stat -c '%a %Y' -- "$1"`;
    const out = await (await this.#run(["sh", "-c", script, "sh", checkedPath(path)])).output();
    if (out.exitCode !== 0) throw fileError("stat", path, out.exitCode, out.stderr);
    const [record = "", rest = ""] = out.stdout.split("\0");
    const [mode = "0", seconds = "0"] = rest.trim().split(" ");
    return {
      ...parseEntry(record),
      mode: Number.parseInt(mode, 8),
      modifiedAt: new Date(Number(seconds) * 1000).toISOString(),
    };
  }

  /** Makes a folder; with `parents` (the default), its missing parents too and no complaint if it exists. */
  async mkdir(path: string, options: { parents?: boolean } = {}): Promise<void> {
    const parents = options.parents ?? true;
    const script = parents
      ? `[ -e "$1" ] && { [ -d "$1" ] && exit 0; exit 5; }; mkdir -p -- "$1" 2>/dev/null || exit 4`
      : `[ -e "$1" ] && exit 5; [ -d "$(dirname -- "$1")" ] || { [ -e "$(dirname -- "$1")" ] && exit 4; exit 2; }; mkdir -- "$1"`;
    const out = await (await this.#run(["sh", "-c", script, "sh", checkedPath(path)])).output();
    if (out.exitCode !== 0) throw fileError("make folder", path, out.exitCode, out.stderr);
  }

  /**
   * Removes a file, or an empty folder; `recursive` removes a folder with
   * everything in it. A path that does not exist fails unless `force`.
   */
  async remove(path: string, options: { recursive?: boolean; force?: boolean } = {}): Promise<void> {
    const checked = checkedPath(path);
    if (checked === "/") throw new InvalidArgumentError("refusing to remove /");
    const script = `[ -e "$1" ] || [ -L "$1" ] || { [ "$3" = 1 ] && exit 0; exit 2; }
if [ -d "$1" ] && [ ! -L "$1" ]; then
  if [ "$2" = 1 ]; then rm -rf -- "$1"; else rmdir -- "$1" 2>/dev/null || exit 6; fi
else rm -f -- "$1"; fi`;
    const flag = (on: boolean | undefined) => (on ? "1" : "0");
    const argv = ["sh", "-c", script, "sh", checked, flag(options.recursive), flag(options.force)];
    const out = await (await this.#run(argv)).output();
    if (out.exitCode !== 0) throw fileError("remove", path, out.exitCode, out.stderr);
  }

  #run(argv: string[], stdin = false): Promise<SandboxProcess> {
    // No user given: the engine runs it as the sandbox's own.
    return SandboxProcess.start(this.#docker, this.#containerId, argv, { stdin });
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
  return data;
}

function parseEntry(record: string): FileEntry {
  const [kind = "", size = "0", target = "", ...name] = record.split("\t");
  const type = entryType(kind);
  return { name: name.join("\t"), type, sizeBytes: Number(size), ...(type === "symlink" ? { target } : {}) };
}

function entryType(kind: string): FileEntry["type"] {
  if (kind.startsWith("regular")) return "file";
  if (kind === "directory") return "directory";
  if (kind === "link" || kind === "symbolic link") return "symlink";
  return "other";
}

function fileError(what: string, path: string, code: number, stderr: string): SandfleetError {
  const reason = REASONS[code] ?? (stderr.trim().split("\n").pop() || "failed");
  const message = `cannot ${what} ${path}: ${reason}`;
  return (CODES[code] ?? ((m: string) => new SandfleetError(m)))(message);
}
