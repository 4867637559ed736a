import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Engine } from "../../provider/engines/port.ts";
import { mustRun } from "./run.ts";

/** A btrfs quota group as the kernel counts it: bytes it references now, and its limit (undefined: none). */
export interface QuotaGroup {
  id: string;
  referencedBytes: number;
  maxReferencedBytes: number | undefined;
}

/**
 * The quota group of a container's writable layer on an engine with the
 * btrfs storage driver on this host: what the sandbox itself wrote, counted
 * by the file system, whatever else writes to the same disk. Committed first,
 * so the counts include every write that has returned.
 */
export async function containerQuotaGroup(engine: Engine, containerId: string): Promise<QuotaGroup> {
  const { dataRoot, storageDriver } = await engine.info();
  if (dataRoot === undefined || storageDriver !== "btrfs") {
    throw new Error(`the engine stores containers with ${storageDriver}, not btrfs on this host`);
  }
  const mountId = (
    await readFile(join(dataRoot, "image/btrfs/layerdb/mounts", containerId, "mount-id"), "utf8")
  ).trim();
  const subvolume = join(dataRoot, "btrfs/subvolumes", mountId);
  await mustRun("btrfs", ["filesystem", "sync", subvolume]);
  // -f: this subvolume's own group only; --raw: bytes.
  const { stdout } = await mustRun("btrfs", ["qgroup", "show", "-ref", "--raw", subvolume]);
  const row = stdout
    .trim()
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .find((fields) => /^0\/\d+$/.test(fields[0] ?? ""));
  if (!row) throw new Error(`no quota group for ${subvolume} in:\n${stdout}`);
  const [id = "", referenced = "", , maxReferenced = ""] = row;
  return {
    id,
    referencedBytes: Number(referenced),
    maxReferencedBytes: maxReferenced === "none" ? undefined : Number(maxReferenced),
  };
}

/**
 * The quota groups of containers' writable layers, by container id, read in
 * one listing of the engine's file system (a thousand containers in one call).
 */
export async function containerQuotaGroupIds(
  engine: Engine,
  containerIds: readonly string[],
): Promise<Map<string, string>> {
  const { dataRoot } = await engine.info();
  if (dataRoot === undefined) throw new Error("the engine does not say where its data root is");
  const byPath = await quotaGroupsByPath(dataRoot);
  const out = new Map<string, string>();
  for (const id of containerIds) {
    const mountId = (await readFile(join(dataRoot, "image/btrfs/layerdb/mounts", id, "mount-id"), "utf8")).trim();
    const group = byPath.get(`btrfs/subvolumes/${mountId}`);
    if (group) out.set(id, group);
  }
  return out;
}

/** Every quota group on the engine's file system now, by id, with the path btrfs shows (`<stale>` once its subvolume is gone). */
export async function quotaGroups(engine: Engine): Promise<Map<string, string>> {
  const { dataRoot } = await engine.info();
  if (dataRoot === undefined) throw new Error("the engine does not say where its data root is");
  return new Map([...(await quotaGroupsByPath(dataRoot))].map(([path, id]) => [id, path]));
}

async function quotaGroupsByPath(dataRoot: string): Promise<Map<string, string>> {
  const { stdout } = await mustRun("btrfs", ["qgroup", "show", "--raw", dataRoot]);
  const out = new Map<string, string>();
  for (const line of stdout.split("\n")) {
    const fields = line.trim().split(/\s+/);
    const [id = "", , , path] = fields;
    if (/^0\/\d+$/.test(id) && path !== undefined) out.set(path === "<stale>" ? `<stale>${id}` : path, id);
  }
  return out;
}
