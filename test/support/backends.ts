import { connectEngine, type EngineTarget } from "../../provider/engines/connect.ts";
import type { Engine } from "../../provider/engines/port.ts";
import { appSuffix } from "../../provider/engines/kubernetes/images.ts";
import { LABEL } from "../../provider/runtime/engine-state/labels.ts";
import { TEST_CLUSTER } from "./cluster.ts";

/** One engine the parity suite runs against: its target (as a resource's props) and its client. */
export interface Backend {
  name: "docker" | "kubernetes";
  target: EngineTarget;
  engine: Engine;
}

/** SANDFLEET_TEST_BACKENDS (e.g. "docker") keeps only those: the current engine's project runs the Docker side alone. */
const WANTED = process.env.SANDFLEET_TEST_BACKENDS?.split(",").map((name) => name.trim());

export const BACKENDS: Backend[] = (
  [
    { name: "docker", target: {}, engine: connectEngine({}) },
    { name: "kubernetes", target: { kubernetes: TEST_CLUSTER }, engine: connectEngine({ kubernetes: TEST_CLUSTER }) },
  ] satisfies Backend[]
).filter((backend) => WANTED === undefined || WANTED.includes(backend.name));

/** The local image tags a Kubernetes engine pushed an app's pods from (none on Docker). */
async function appImageTags(engine: Engine, app: string): Promise<string[]> {
  if (!engine.host.startsWith("kubernetes://")) return [];
  const repo = `${TEST_CLUSTER.registry ?? ""}/sandfleet/images`;
  const images = await engine.images.list({}, { reference: repo });
  return images.flatMap((i) => i.tags).filter((tag) => tag.endsWith(appSuffix(app)));
}

/**
 * What sandfleet left on a backend for an app, asked of the engine under test (never another
 * engine's CLI): sandboxes, records, volumes, networks (Kubernetes: NetworkPolicies) and images
 * (Kubernetes: the local tags its pods were pushed from), by name.
 */
export async function backendLeftovers(engine: Engine, app: string): Promise<string[]> {
  const labels = { [LABEL.managed]: "true", [LABEL.app]: app };
  const [containers, volumes, records, networks, images, tags] = await Promise.all([
    engine.containers.list(labels),
    engine.volumes.list(labels),
    engine.records.list({ [LABEL.app]: app }),
    engine.networks.list(labels),
    engine.images.list(labels),
    appImageTags(engine, app),
  ]);
  // On Docker a record is a volume too: each name once.
  const names = [
    ...containers.map((c) => c.name),
    ...volumes.map((v) => v.name),
    ...records.map((r) => r.name),
    ...networks.map((n) => n.name),
    ...images.flatMap((i) => (i.tags.length ? i.tags : [i.id])),
    ...tags,
  ];
  return [...new Set(names)].sort();
}

/** Removes what an app's tests left on a backend, through the engine under test. */
export async function cleanupBackend(engine: Engine, app: string): Promise<void> {
  const labels = { [LABEL.managed]: "true", [LABEL.app]: app };
  for (const c of await engine.containers.list(labels)) await engine.containers.remove(c.id);
  for (const v of await engine.volumes.list(labels)) await engine.volumes.remove(v.name);
  for (const r of await engine.records.list({ [LABEL.app]: app })) await engine.records.remove(r.name);
  for (const n of await engine.networks.list(labels)) await engine.networks.remove(n.id);
  for (const image of await engine.images.list(labels)) {
    for (const tag of image.tags.length ? image.tags : [image.id]) await engine.images.remove(tag);
  }
  for (const tag of await appImageTags(engine, app)) await engine.images.remove(tag);
}
