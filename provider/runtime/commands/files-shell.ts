import type { Engine } from "../../engines/port.ts";
import { NotFoundError } from "../../errors.ts";
import { FILE_REASONS, fileError, type FileErrorCode } from "../supervisor/file-errors.ts";
import type { FileEntry, FileOps } from "../supervisor/file-ops.ts";
import { SandboxProcess, type ExecTarget } from "./process.ts";

// The scripts below end with these codes when a path is not what the call needs.
const CODES: Record<number, FileErrorCode> = {
  2: "not_found",
  3: "is_a_directory",
  4: "not_a_directory",
  5: "already_exists",
  6: "not_empty",
  7: "too_large",
};

// `entry NAME PATH`: one record, NUL-terminated: type, size, target, name.
const ENTRY = `entry() {
  if [ -L "$2" ]; then t=link; else t=$(stat -c %F -- "$2"); fi
  printf '%s\\t%s\\t%s\\t%s\\0' "$t" "$(stat -c %s -- "$2")" "$(readlink -- "$2" 2>/dev/null)" "$1"
}`;

/**
 * The file calls done by the sandbox's own tools (sh, cat, stat) through
 * engine execs: for sandboxes without a supervisor.
 */
export function shellFileOps(docker: Engine, target: ExecTarget): FileOps {
  // No user given: the engine runs it as the sandbox's own.
  const run = (argv: string[], stdin = false) => SandboxProcess.start(docker, target, argv, { stdin });
  return {
    async read(path, maxBytes) {
      const script = `[ -e "$1" ] || exit 2; [ -d "$1" ] && exit 3
size=$(stat -c %s -- "$1"); [ "$size" -gt "$2" ] && { echo "$size" >&2; exit 7; }
exec cat -- "$1"`;
      const out = await (await run(["sh", "-c", script, "sh", path, String(maxBytes)])).outputBytes();
      if (out.exitCode === 7) {
        throw fileError(
          "too_large",
          `cannot read ${path}: it has ${out.stderr.trim()} bytes, more than maxBytes (${String(maxBytes)})`,
        );
      }
      if (out.exitCode !== 0) throw failure("read", path, out.exitCode, out.stderr);
      return out.stdout;
    },

    async readRange(path, offset, length) {
      const whole = await this.read(path, Number.MAX_SAFE_INTEGER);
      return whole.subarray(offset, length === undefined ? undefined : offset + length);
    },

    async writeAt(path, data, at) {
      // Without the supervisor: the whole file, read, changed and written back.
      const before = await this.read(path, Number.MAX_SAFE_INTEGER).catch((error: unknown) => {
        if (error instanceof NotFoundError) return Buffer.alloc(0);
        throw error;
      });
      const offset = at === "end" ? before.length : at;
      const after = Buffer.alloc(Math.max(before.length, offset + data.length));
      before.copy(after);
      after.set(data, offset);
      await this.write(path, after);
    },

    async write(path, data) {
      const script = `[ -d "$1" ] && exit 3
mkdir -p -- "$(dirname -- "$1")" 2>/dev/null || exit 4
cat > "$1"`;
      const process = await run(["sh", "-c", script, "sh", path], true);
      process.stdin.end(data);
      const out = await process.output();
      if (out.exitCode !== 0) throw failure("write", path, out.exitCode, out.stderr);
    },

    async list(path) {
      const script = `${ENTRY}
[ -e "$1" ] || [ -L "$1" ] || exit 2
if [ -d "$1" ] && [ ! -L "$1" ]; then
  cd -- "$1" || exit 2
  for f in * .[!.]* ..?*; do [ -e "$f" ] || [ -L "$f" ] || continue; entry "$f" "$f"; done
else entry "$(basename -- "$1")" "$1"; fi`;
      const out = await (await run(["sh", "-c", script, "sh", path])).output();
      if (out.exitCode !== 0) throw failure("list", path, out.exitCode, out.stderr);
      return out.stdout
        .split("\0")
        .filter(Boolean)
        .map(parseEntry)
        .sort((a, b) => (a.name < b.name ? -1 : 1));
    },

    async stat(path) {
      const script = `${ENTRY}
[ -e "$1" ] || [ -L "$1" ] || exit 2
entry "$(basename -- "$1")" "$1"; stat -c '%a %Y' -- "$1"`;
      const out = await (await run(["sh", "-c", script, "sh", path])).output();
      if (out.exitCode !== 0) throw failure("stat", path, out.exitCode, out.stderr);
      const [record = "", rest = ""] = out.stdout.split("\0");
      const [mode = "0", seconds = "0"] = rest.trim().split(" ");
      return {
        ...parseEntry(record),
        mode: Number.parseInt(mode, 8),
        modifiedAt: new Date(Number(seconds) * 1000).toISOString(),
      };
    },

    async mkdir(path, parents) {
      const script = parents
        ? `[ -e "$1" ] && { [ -d "$1" ] && exit 0; exit 5; }; mkdir -p -- "$1" 2>/dev/null || exit 4`
        : `[ -e "$1" ] && exit 5; [ -d "$(dirname -- "$1")" ] || { [ -e "$(dirname -- "$1")" ] && exit 4; exit 2; }; mkdir -- "$1"`;
      const out = await (await run(["sh", "-c", script, "sh", path])).output();
      if (out.exitCode !== 0) throw failure("make folder", path, out.exitCode, out.stderr);
    },

    async remove(path, recursive, force) {
      const script = `[ -e "$1" ] || [ -L "$1" ] || { [ "$3" = 1 ] && exit 0; exit 2; }
if [ -d "$1" ] && [ ! -L "$1" ]; then
  if [ "$2" = 1 ]; then rm -rf -- "$1"; else rmdir -- "$1" 2>/dev/null || exit 6; fi
else rm -f -- "$1"; fi`;
      const flag = (on: boolean) => (on ? "1" : "0");
      const out = await (await run(["sh", "-c", script, "sh", path, flag(recursive), flag(force)])).output();
      if (out.exitCode !== 0) throw failure("remove", path, out.exitCode, out.stderr);
    },
  };
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

function failure(what: string, path: string, exitCode: number, stderr: string) {
  const code = CODES[exitCode] ?? "failed";
  const reason = FILE_REASONS[code] ?? (stderr.trim().split("\n").pop() || "failed");
  return fileError(code, `cannot ${what} ${path}: ${reason}`);
}
