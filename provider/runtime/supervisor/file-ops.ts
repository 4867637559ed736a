// What a file call of a sandbox gives and takes, whichever path does it: the
// supervisor itself (supervisor/files.ts) or the sandbox's own tools
// (files-shell.ts). SandboxFiles (files.ts) stands on both.

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

/** A change seen by `watch`. */
export interface FileEvent {
  type: "create" | "modify" | "remove";
  path: string;
}

/**
 * The file operations, as each path does them: the supervisor itself, or
 * the sandbox's own tools (sh, cat, stat) through the engine. Paths arrive
 * checked; failures are the typed errors of errors.ts.
 */
export interface FileOps {
  read(path: string, maxBytes: number): Promise<Buffer>;
  /** At most `length` bytes from `offset` (to the end without a length). */
  readRange(path: string, offset: number, length: number | undefined): Promise<Buffer>;
  write(path: string, data: Uint8Array): Promise<void>;
  /** Writes at an offset (keeping the rest), or appends. */
  writeAt(path: string, data: Uint8Array, at: number | "end"): Promise<void>;
  /** Changes under a path until the signal aborts; undefined where the path cannot watch. */
  watch?(path: string, recursive: boolean, signal: AbortSignal): AsyncIterable<FileEvent>;
  list(path: string): Promise<FileEntry[]>;
  stat(path: string): Promise<FileStat>;
  mkdir(path: string, parents: boolean): Promise<void>;
  remove(path: string, recursive: boolean, force: boolean): Promise<void>;
}
