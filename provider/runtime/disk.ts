import type { Engine } from "../engines/port.ts";
import type { EngineInfo } from "../engines/port.ts";
import { DISK_MIB } from "../rules.ts";

/**
 * Why the engine cannot bound a sandbox's disk, or undefined when it can.
 * Docker's `size` storage option works on btrfs (qgroups) and zfs (quotas),
 * and on overlay2 only over xfs mounted with project quotas.
 */
export function diskBoundProblem(info: EngineInfo, host: string): string | undefined {
  // The kubelet bounds a pod's ephemeral storage itself, on any file system.
  if (info.kind === "kubernetes") return undefined;
  if (info.storageDriver === "btrfs" || info.storageDriver === "zfs") return undefined;
  if (info.storageDriver === "overlay2" && info.backingFilesystem === "xfs") return undefined;
  const on = info.backingFilesystem ? ` on ${info.backingFilesystem}` : "";
  return (
    `the Docker engine at ${host} stores containers with ${info.storageDriver || "an unknown driver"}${on}, ` +
    "which cannot bound a container's disk; use btrfs or zfs storage, or overlay2 on xfs with project quotas " +
    "(scripts/bootstrap sets up btrfs)"
  );
}

/**
 * The disk bound a sandbox gets: the one asked for, else the default where the
 * engine can enforce one. Asking for one where it cannot is refused by the caller.
 */
export async function diskBound(
  docker: Engine,
  asked: number | undefined,
): Promise<{ diskMiB: number | undefined; problem: string | undefined }> {
  const problem = diskBoundProblem(await docker.info(), docker.host);
  if (asked !== undefined) return { diskMiB: asked, problem };
  return { diskMiB: problem ? undefined : DISK_MIB.default, problem: undefined };
}
