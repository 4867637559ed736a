import { connectEngine, type EngineTarget } from "../../provider/engines/connect.ts";
import type { Engine } from "../../provider/engines/port.ts";
import { LABEL } from "../../provider/runtime/engine-state/labels.ts";
import { TEST_CLUSTER } from "./cluster.ts";

/** One engine the parity suite runs against: its target (as a resource's props) and its client. */
export interface Backend {
  name: "docker" | "kubernetes";
  target: EngineTarget;
  engine: Engine;
}

export const BACKENDS: Backend[] = [
  { name: "docker", target: {}, engine: connectEngine({}) },
  { name: "kubernetes", target: { kubernetes: TEST_CLUSTER }, engine: connectEngine({ kubernetes: TEST_CLUSTER }) },
];

/** What sandfleet left on a backend for an app: sandboxes, records and volumes, by name. */
export async function backendLeftovers(engine: Engine, app: string): Promise<string[]> {
  const labels = { [LABEL.managed]: "true", [LABEL.app]: app };
  const [containers, volumes, records] = await Promise.all([
    engine.containers.list(labels),
    engine.volumes.list(labels),
    engine.records.list({ [LABEL.app]: app }),
  ]);
  // On Docker a record is a volume too: each name once.
  const names = [...containers.map((c) => c.name), ...volumes.map((v) => v.name), ...records.map((r) => r.name)];
  return [...new Set(names)].sort();
}

/** Removes what an app's tests left on a backend. */
export async function cleanupBackend(engine: Engine, app: string): Promise<void> {
  const labels = { [LABEL.managed]: "true", [LABEL.app]: app };
  for (const c of await engine.containers.list(labels)) await engine.containers.remove(c.id);
  for (const v of await engine.volumes.list(labels)) await engine.volumes.remove(v.name);
  for (const r of await engine.records.list({ [LABEL.app]: app })) await engine.records.remove(r.name);
}
