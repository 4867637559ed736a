import { Readable } from "node:stream";

/**
 * A tar archive of one directory holding one binary under each of the names
 * given, each with its mode, all owned by root and not writable: a binary
 * sandfleet puts into images and volumes. The modes travel in the archive,
 * so a copy can be execute-only in the image without the process that packs
 * it having to read it back from disk.
 */
export async function binaryArchive(
  dir: string,
  binary: Buffer,
  files: Readonly<Record<string, number>>,
): Promise<Readable> {
  const { pack } = await import("tar-stream");
  const archive = pack();
  archive.entry({ name: `${dir}/`, type: "directory", mode: 0o755, uid: 0, gid: 0 });
  for (const [file, mode] of Object.entries(files))
    archive.entry({ name: `${dir}/${file}`, mode, uid: 0, gid: 0 }, binary);
  archive.finalize();
  return Readable.from(archive);
}

/**
 * The supervisor's binary as every sandbox gets it, twice. The copy runc
 * sandboxes run is execute-only: no sandbox user can read it, so the kernel
 * makes every process running it (PID 1, `connect`) non-dumpable at execve:
 * not traceable, its memory and environment unreadable by the same uid.
 * gVisor reads a binary itself to load it, as the process's user, and
 * refuses one it cannot read: runsc sandboxes run a readable copy, and the
 * supervisor marks itself non-dumpable as it starts.
 */
export const SUPERVISOR_FILES = { "sandfleet-supervisor": 0o111, "sandfleet-supervisor-readable": 0o555 } as const;

/** The copy of the supervisor a sandbox of this runtime runs. */
export function supervisorFile(runtime: string | undefined): keyof typeof SUPERVISOR_FILES {
  return runtime === "runsc" ? "sandfleet-supervisor-readable" : "sandfleet-supervisor";
}
