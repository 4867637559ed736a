import { randomBytes } from "node:crypto";
import { connectDocker } from "../../provider/engines/docker/client.ts";
import type { Engine } from "../../provider/engines/port.ts";
import { LABEL } from "../../provider/runtime/engine-state/labels.ts";
import { listMembers } from "../../provider/runtime/pools/pool.ts";

export const docker: Engine = connectDocker();

/** A fresh app name per test, so that cleanup by label touches nothing else. */
export function uniqueApp(prefix = "t"): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

export interface Leftovers {
  containers: string[];
  networks: string[];
  volumes: string[];
  images: string[];
}

export const NOTHING: Leftovers = { containers: [], networks: [], volumes: [], images: [] };

/** What sandfleet left on the engine for an app: the tests' leak detector. */
export async function leftovers(app: string): Promise<Leftovers> {
  const labels = { [LABEL.managed]: "true", [LABEL.app]: app };
  const [containers, networks, volumes, images] = await Promise.all([
    docker.containers.list(labels),
    docker.networks.list(labels),
    docker.volumes.list(labels),
    docker.images.list(labels),
  ]);
  return {
    containers: containers.map((c) => c.name),
    networks: networks.map((n) => n.name),
    volumes: volumes.map((v) => v.name),
    images: images.flatMap((i) => (i.tags.length ? i.tags : [i.id])),
  };
}

/** Removes everything an app's tests made, found by label. */
export async function cleanupApp(app: string): Promise<void> {
  const labels = { [LABEL.managed]: "true", [LABEL.app]: app };
  const containers = await docker.containers.list(labels);
  await Promise.all(containers.map((c) => docker.containers.remove(c.id)));
  const networks = await docker.networks.list(labels);
  await Promise.all(networks.map((n) => docker.networks.remove(n.id)));
  const volumes = await docker.volumes.list(labels);
  await Promise.all(volumes.map((v) => docker.volumes.remove(v.name)));
  for (const image of await docker.images.list(labels)) {
    for (const tag of image.tags.length ? image.tags : [image.id]) await docker.images.remove(tag);
  }
}

/** The ids of a pool's warm members, sorted, to compare across changes. */
export async function warmMemberIds(app: string, pool: string): Promise<string[]> {
  return (await listMembers(docker, app, pool))
    .filter((m) => m.state === "warm")
    .map((m) => m.id)
    .sort();
}
