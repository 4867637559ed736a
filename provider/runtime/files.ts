import type { DockerClient } from "../docker/client.ts";
import { ruleProblem } from "../rules.ts";
import { InvalidArgumentError, NotFoundError, SandfleetError } from "../errors.ts";
import { SandboxProcess } from "./process.ts";

export interface FileEntry {
  name: string;
  type: "file" | "directory" | "symlink" | "other";
  sizeBytes: number;
}

/** Reads and writes files inside a sandbox, through its own tools (sh, cat, stat), as its user. */
export class SandboxFiles {
  readonly #docker: DockerClient;
  readonly #containerId: string;

  /** @internal */
  constructor(docker: DockerClient, containerId: string) {
    this.#docker = docker;
    this.#containerId = containerId;
  }

  async read(path: string): Promise<Buffer> {
    const result = await this.#run(["cat", "--", checkedPath(path)]);
    const out = await result.outputBytes();
    if (out.exitCode !== 0) throw fileError("read", path, out.stderr);
    return out.stdout;
  }

  async readText(path: string): Promise<string> {
    return (await this.read(path)).toString("utf8");
  }

  /** Writes the whole file, making its folder first. */
  async write(path: string, data: string | Uint8Array): Promise<void> {
    const process = await this.#run(
      ["sh", "-c", 'mkdir -p -- "$(dirname -- "$1")" && cat > "$1"', "sh", checkedPath(path)],
      true,
    );
    process.stdin.end(typeof data === "string" ? Buffer.from(data, "utf8") : data);
    const out = await process.output();
    if (out.exitCode !== 0) throw fileError("write", path, out.stderr);
  }

  async list(path: string): Promise<FileEntry[]> {
    const script = `cd -- "$1" || exit 1
for f in * .[!.]* ..?*; do
  [ -e "$f" ] || [ -L "$f" ] || continue
  printf '%s\\t%s\\t%s\\0' "$(stat -c %F -- "$f")" "$(stat -c %s -- "$f")" "$f"
done`;
    const out = await (await this.#run(["sh", "-c", script, "sh", checkedPath(path)])).output();
    if (out.exitCode !== 0) throw fileError("list", path, out.stderr);
    return out.stdout
      .split("\0")
      .filter(Boolean)
      .map((record) => {
        const [kind = "", size = "0", ...name] = record.split("\t");
        return { name: name.join("\t"), type: entryType(kind), sizeBytes: Number(size) };
      })
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async mkdir(path: string): Promise<void> {
    const out = await (await this.#run(["mkdir", "-p", "--", checkedPath(path)])).output();
    if (out.exitCode !== 0) throw fileError("make folder", path, out.stderr);
  }

  /** Removes a file, or a folder with everything in it; a path that does not exist is fine. */
  async remove(path: string): Promise<void> {
    const checked = checkedPath(path);
    if (checked === "/") throw new InvalidArgumentError("refusing to remove /");
    const out = await (await this.#run(["rm", "-rf", "--", checked])).output();
    if (out.exitCode !== 0) throw fileError("remove", path, out.stderr);
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

function entryType(kind: string): FileEntry["type"] {
  if (kind.startsWith("regular")) return "file";
  if (kind === "directory") return "directory";
  if (kind === "symbolic link") return "symlink";
  return "other";
}

function fileError(what: string, path: string, stderr: string): SandfleetError {
  const detail = stderr.trim().split("\n").pop() ?? "";
  const message = `cannot ${what} ${path}: ${detail || "failed"}`;
  return /No such file|can't cd|can't open|not found/i.test(detail)
    ? new NotFoundError(message)
    : new SandfleetError(message);
}
