import { randomHex } from "../../digest.ts";
import type { Engine } from "../../engines/port.ts";
import { LABEL, ownershipLabels, scopeLabels } from "./labels.ts";
import { objectName } from "./names.ts";
import { systemClock, type Clock } from "../local/poll.ts";

/**
 * What changes about a live sandbox after it was made: its tags, its
 * deadline. A container's labels cannot change, so each change is a record:
 * a labelled volume with no data, named for the sandbox and the moment. The
 * newest record of a kind wins; the engine keeps it across restarts of
 * whoever wrote it.
 */
export type RecordKind = "tags" | "deadline" | "egress";

export interface SandboxRecord {
  name: string;
  sandboxId: string;
  setAtMs: number;
  labels: Record<string, string>;
}

async function listRecords(docker: Engine, labels: Record<string, string>): Promise<SandboxRecord[]> {
  const volumes = await docker.records.list(labels);
  return volumes
    .map((v) => ({
      name: v.name,
      sandboxId: v.labels[LABEL.sandbox] ?? "",
      setAtMs: Number(v.labels[LABEL.setAt] ?? 0),
      labels: v.labels,
    }))
    .sort((a, b) => a.setAtMs - b.setAtMs || a.name.localeCompare(b.name));
}

/** Each sandbox's newest record of a kind, of an app (or every app), by sandbox id: one listing. */
export async function newestRecords(
  docker: Engine,
  kind: RecordKind,
  app?: string,
): Promise<Map<string, SandboxRecord>> {
  const newest = new Map<string, SandboxRecord>();
  for (const record of await listRecords(docker, scopeLabels(kind, app))) newest.set(record.sandboxId, record);
  return newest;
}

/** Records a change: the new record first, then the older ones of its kind go. */
export async function writeRecord(
  docker: Engine,
  kind: RecordKind,
  sandbox: { id: string; app: string },
  labels: Record<string, string>,
  clock: Clock = systemClock,
): Promise<void> {
  const setAtMs = clock.now();
  await docker.records.create({
    name: objectName(kind, sandbox.app, `${sandbox.id.slice(0, 12)}-${setAtMs.toString(36)}-${randomHex(2)}`),
    labels: ownershipLabels(sandbox.app, kind, {
      [LABEL.sandbox]: sandbox.id,
      [LABEL.setAt]: String(setAtMs),
      ...labels,
    }),
  });
  const older = (await listRecords(docker, { ...scopeLabels(kind, sandbox.app), [LABEL.sandbox]: sandbox.id })).slice(
    0,
    -1,
  );
  await Promise.all(older.map((r) => docker.records.remove(r.name)));
}

/** Removes the records of a sandbox, or of every sandbox that no longer exists. */
export async function removeRecords(docker: Engine, sandboxId?: string): Promise<void> {
  for (const kind of ["tags", "deadline", "connect", "egress"] as const) {
    const found = await listRecords(docker, {
      ...scopeLabels(kind),
      ...(sandboxId ? { [LABEL.sandbox]: sandboxId } : {}),
    });
    for (const record of found) {
      if (sandboxId || !(await docker.containers.inspect(record.sandboxId))) await docker.records.remove(record.name);
    }
  }
}
