import { SandfleetError } from "../../errors.ts";
import type { Engine } from "../../engines/port.ts";
import { LABEL } from "../engine-state/labels.ts";
import { isCheckpointed } from "../engine-state/resume.ts";
import { collectSupervisors } from "../supervisor/placement.ts";
import { removeRecords } from "../engine-state/sandbox-records.ts";

export interface Garbage {
  containers: { id: string; name: string }[];
  images: string[];
  /** Versions of the supervisor that no sandbox uses any more (engine-wide collections only). */
  supervisors: string[];
}

/**
 * What sandfleet made at run time and nothing owns any more: ended sandboxes
 * made through the runtime, and runtime snapshots no container uses. Anything
 * a Pulumi stack owns is left to the stack.
 */
export async function collectGarbage(docker: Engine, params: { app?: string; dryRun: boolean }): Promise<Garbage> {
  const scope = {
    [LABEL.managed]: "true",
    [LABEL.owner]: "runtime",
    ...(params.app ? { [LABEL.app]: params.app } : {}),
  };
  const stopped = (await docker.containers.list({ ...scope, [LABEL.kind]: "sandbox" })).filter(
    (c) => c.status === "exited" || c.status === "dead" || c.status === "created",
  );
  // A sandbox a checkpoint stopped is paused, its memory on disk: it waits for its resume.
  const ended = [];
  for (const c of stopped) if (c.status !== "exited" || !(await isCheckpointed(docker, c.id))) ended.push(c);
  const snapshots = await docker.images.list({ ...scope, [LABEL.kind]: "snapshot" });
  const garbage: Garbage = { containers: ended.map((c) => ({ id: c.id, name: c.name })), images: [], supervisors: [] };
  if (!params.dryRun) for (const c of ended) await docker.containers.remove(c.id);
  for (const image of snapshots) {
    for (const tag of image.tags) {
      if (params.dryRun) {
        garbage.images.push(tag);
        continue;
      }
      // Removal is refused while a container uses the image: that is the "nothing uses it" test.
      if ((await docker.images.remove(tag)) === "removed") garbage.images.push(tag);
    }
  }
  if (!params.dryRun) {
    await removeRecords(docker);
    await removeIdleEgressNetworks(docker, params.app);
  }
  // The supervisor belongs to the whole engine, not to an app.
  if (!params.app) garbage.supervisors = await collectSupervisors(docker, params.dryRun);
  return garbage;
}

/** Egress networks no container is on any more (the App resource removes its own; these were made by code). */
async function removeIdleEgressNetworks(docker: Engine, app?: string): Promise<void> {
  const networks = await docker.networks.list({
    [LABEL.managed]: "true",
    [LABEL.egressNetwork]: "true",
    ...(app ? { [LABEL.app]: app } : {}),
  });
  for (const network of networks) {
    try {
      await docker.networks.remove(network.id);
    } catch (error) {
      // Still in use (the engine answers 403, "active endpoints"): kept.
      if (!(error instanceof SandfleetError && /active endpoints/.test(error.message))) throw error;
    }
  }
}
