import type { Engine } from "../../engines/port.ts";
import { fileError } from "./file-errors.ts";
import type { FileEntry, FileEvent, FileOps, FileStat } from "./file-ops.ts";
import { failureOf, SupervisorFailure } from "./connection.ts";
import { FRAME } from "./frames.ts";
import { supervisorConnection } from "./connections.ts";
import { OP, type DoneRequest, type Entry, type WatchEvent, type WatchRequest } from "./protocol.ts";

/** The file calls done by the sandbox's supervisor itself (supervisor/files). */
export function supervisorFileOps(docker: Engine, containerId: string): FileOps {
  const call = async <R extends DoneRequest>(request: R, input?: Uint8Array) => {
    const connection = await supervisorConnection(docker, containerId);
    try {
      return await connection.call(request, input);
    } catch (error) {
      throw error instanceof SupervisorFailure ? fileError(error.code, error.message) : error;
    }
  };
  return {
    async read(path, maxBytes) {
      return (await call({ op: OP.read, path, maxBytes })).data;
    },
    async readRange(path, offset, length) {
      return (await call({ op: OP.read, path, offset, ...(length !== undefined ? { length } : {}) })).data;
    },
    async write(path, data) {
      await call({ op: OP.write, path }, data);
    },
    async writeAt(path, data, at) {
      await call(
        at === "end" ? { op: OP.write, path, append: true } : { op: OP.write, path, positioned: true, offset: at },
        data,
      );
    },
    watch(path, recursive, signal) {
      return watchEvents(docker, containerId, path, recursive, signal);
    },
    async list(path) {
      const { result } = await call({ op: OP.list, path });
      return (result?.entries ?? []).map(entryOf);
    },
    async stat(path) {
      const { result } = await call({ op: OP.stat, path });
      // A stat's result is a whole Entry: the supervisor sends every field of it but a target.
      const entry = result as Entry;
      const stat: FileStat = {
        ...entryOf(entry),
        mode: entry.mode,
        modifiedAt: new Date(entry.modifiedMs).toISOString(),
      };
      return stat;
    },
    async mkdir(path, parents) {
      await call({ op: OP.mkdir, path, parents });
    },
    async remove(path, recursive, force) {
      await call({ op: OP.remove, path, recursive, force });
    },
  };
}

async function* watchEvents(
  docker: Engine,
  containerId: string,
  path: string,
  recursive: boolean,
  signal: AbortSignal,
): AsyncGenerator<FileEvent> {
  const connection = await supervisorConnection(docker, containerId);
  const queue: FileEvent[] = [];
  let ended: Error | true | undefined;
  let wake: (() => void) | undefined;
  let partial = "";
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const request: WatchRequest = { op: OP.watch, path, recursive };
  const channel = connection.openChannel(request, {
    frame(frame) {
      if (frame.kind === FRAME.stdout) {
        const lines = (partial + frame.payload.toString("utf8")).split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) if (line) queue.push(JSON.parse(line) as WatchEvent);
      } else if (frame.kind === FRAME.done) ended = true;
      else if (frame.kind === FRAME.failure) {
        const failure = failureOf(frame.payload);
        ended = fileError(failure.code, failure.message);
      }
      notify();
    },
    lost(error) {
      ended = error;
      notify();
    },
  });
  const stop = () => {
    connection.send(FRAME.endInput, channel);
  };
  signal.addEventListener("abort", stop, { once: true });
  try {
    for (;;) {
      const next = queue.shift();
      if (next) {
        yield next;
        continue;
      }
      if (ended instanceof Error) throw ended;
      if (ended) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    signal.removeEventListener("abort", stop);
    if (!ended) stop();
  }
}

function entryOf(entry: Entry): FileEntry {
  return {
    name: entry.name,
    type: entry.type,
    sizeBytes: entry.sizeBytes,
    ...(entry.type === "symlink" ? { target: entry.target ?? "" } : {}),
  };
}
