import type { Engine } from "../../engines/port.ts";
import type { EngineInfo } from "../../engines/port.ts";
import { DISK_MIB } from "../../rules.ts";

/** Why the engine cannot bound a sandbox's disk (its own words), or undefined when it can. */
export function diskBoundProblem(info: EngineInfo): string | undefined {
  const { diskBound } = info.capabilities;
  return diskBound.supported ? undefined : diskBound.why;
}

/**
 * The disk bound a sandbox gets: the one asked for, else the default where the
 * engine can enforce one. Asking for one where it cannot is refused by the caller.
 */
export async function diskBound(
  docker: Engine,
  asked: number | undefined,
): Promise<{ diskMiB: number | undefined; problem: string | undefined }> {
  const problem = diskBoundProblem(await docker.info());
  if (asked !== undefined) return { diskMiB: asked, problem };
  return { diskMiB: problem ? undefined : DISK_MIB.default, problem: undefined };
}
