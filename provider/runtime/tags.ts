import { randomHex } from "../digest.ts";
import type { DockerClient } from "../docker/client.ts";
import { InvalidArgumentError } from "../errors.ts";
import { LABEL, ownershipLabels, scopeLabels, tagLabels, tagsFromLabels } from "./labels.ts";
import { objectName } from "./names.ts";
import { mapProblems } from "./sandbox-params.ts";

/**
 * Tags set on a live sandbox. A container's labels cannot change after it is
 * made, so later tags live in a tag record: a labelled volume with no data,
 * named for the sandbox and the moment, the newest of which wins over the
 * labels the sandbox was made with.
 */
export interface TagRecord {
  name: string;
  sandboxId: string;
  setAtMs: number;
  tags: Record<string, string>;
}

async function records(docker: DockerClient, labels: Record<string, string>): Promise<TagRecord[]> {
  const volumes = await docker.volumes.list(labels);
  return volumes
    .map((v) => ({
      name: v.name,
      sandboxId: v.labels[LABEL.sandbox] ?? "",
      setAtMs: Number(v.labels[LABEL.setAt] ?? 0),
      tags: tagsFromLabels(v.labels),
    }))
    .sort((a, b) => a.setAtMs - b.setAtMs || a.name.localeCompare(b.name));
}

/** Each sandbox's newest tags of an app (or every app), by sandbox id: one listing of the engine. */
export async function liveTags(docker: DockerClient, app?: string): Promise<Map<string, Record<string, string>>> {
  const newest = new Map<string, Record<string, string>>();
  for (const record of await records(docker, scopeLabels("tags", app))) newest.set(record.sandboxId, record.tags);
  return newest;
}

/** Replaces a sandbox's tags: the new record first, then the older ones go. */
export async function setTags(
  docker: DockerClient,
  sandbox: { id: string; app: string },
  tags: Record<string, string>,
): Promise<void> {
  const problems = mapProblems("tags", tags, "tagKey", "tagValue");
  if (problems.length > 0) {
    throw new InvalidArgumentError(`invalid tags: ${problems.map((p) => `${p.property} ${p.reason}`).join("; ")}`);
  }
  const setAtMs = Date.now();
  await docker.volumes.create({
    name: objectName("tags", sandbox.app, `${sandbox.id.slice(0, 12)}-${setAtMs.toString(36)}-${randomHex(2)}`),
    labels: ownershipLabels(sandbox.app, "tags", {
      [LABEL.sandbox]: sandbox.id,
      [LABEL.setAt]: String(setAtMs),
      ...tagLabels(tags),
    }),
  });
  const older = (await records(docker, { ...scopeLabels("tags", sandbox.app), [LABEL.sandbox]: sandbox.id })).slice(
    0,
    -1,
  );
  await Promise.all(older.map((r) => docker.volumes.remove(r.name)));
}

/** Removes the tag records of a sandbox, or of every sandbox that no longer exists. */
export async function removeTagRecords(docker: DockerClient, sandboxId?: string): Promise<void> {
  const found = await records(docker, { ...scopeLabels("tags"), ...(sandboxId ? { [LABEL.sandbox]: sandboxId } : {}) });
  for (const record of found) {
    if (sandboxId || !(await docker.containers.inspect(record.sandboxId))) await docker.volumes.remove(record.name);
  }
}
