import type { DockerClient } from "../../docker/client.ts";
import { fileError } from "../file-errors.ts";
import type { FileEntry, FileOps, FileStat } from "../files.ts";
import { SupervisorFailure } from "./connection.ts";
import { supervisorConnection } from "./connections.ts";

interface SupervisorEntry {
  name: string;
  type: FileEntry["type"];
  sizeBytes: number;
  target?: string;
  mode: number;
  modifiedMs: number;
}

/** The file calls done by the sandbox's supervisor itself (supervisor/files). */
export function supervisorFileOps(docker: DockerClient, containerId: string): FileOps {
  const call = async (request: Record<string, unknown>, input?: Uint8Array) => {
    const connection = await supervisorConnection(docker, containerId);
    try {
      return await connection.call(request, input);
    } catch (error) {
      throw error instanceof SupervisorFailure ? fileError(error.code, error.message) : error;
    }
  };
  return {
    async read(path, maxBytes) {
      return (await call({ op: "read", path, maxBytes })).data;
    },
    async write(path, data) {
      await call({ op: "write", path }, data);
    },
    async list(path) {
      const { result } = await call({ op: "list", path });
      return ((result as { entries?: SupervisorEntry[] }).entries ?? []).map(entryOf);
    },
    async stat(path) {
      const { result } = await call({ op: "stat", path });
      const entry = result as SupervisorEntry;
      const stat: FileStat = {
        ...entryOf(entry),
        mode: entry.mode,
        modifiedAt: new Date(entry.modifiedMs).toISOString(),
      };
      return stat;
    },
    async mkdir(path, parents) {
      await call({ op: "mkdir", path, parents });
    },
    async remove(path, recursive, force) {
      await call({ op: "remove", path, recursive, force });
    },
  };
}

function entryOf(entry: SupervisorEntry): FileEntry {
  return {
    name: entry.name,
    type: entry.type,
    sizeBytes: entry.sizeBytes,
    ...(entry.type === "symlink" ? { target: entry.target ?? "" } : {}),
  };
}
