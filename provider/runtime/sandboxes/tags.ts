import type { Engine } from "../../engines/port.ts";
import { InvalidArgumentError } from "../../errors.ts";
import { tagLabels, tagsFromLabels } from "../engine-state/labels.ts";
import { mapProblems } from "./sandbox-params.ts";
import { newestRecords, writeRecord } from "../engine-state/sandbox-records.ts";

/** Each sandbox's tags set while it ran, of an app (or every app), by sandbox id. */
export async function liveTags(docker: Engine, app?: string): Promise<Map<string, Record<string, string>>> {
  const records = await newestRecords(docker, "tags", app);
  return new Map([...records].map(([id, record]) => [id, tagsFromLabels(record.labels)]));
}

/** Replaces a live sandbox's tags; they win over those it was made with. */
export async function setTags(
  docker: Engine,
  sandbox: { id: string; app: string },
  tags: Record<string, string>,
): Promise<void> {
  const problems = mapProblems("tags", tags, "tagKey", "tagValue");
  if (problems.length > 0) {
    throw new InvalidArgumentError(`invalid tags: ${problems.map((p) => `${p.property} ${p.reason}`).join("; ")}`);
  }
  await writeRecord(docker, "tags", sandbox, tagLabels(tags));
}
