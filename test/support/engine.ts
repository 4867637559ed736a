import { randomBytes } from "node:crypto";
import { connectDocker, type DockerClient } from "../../provider/docker/client.ts";
import { LABEL } from "../../provider/runtime/labels.ts";

export const docker: DockerClient = connectDocker();

/** A fresh app name per test, so that cleanup by label touches nothing else. */
export function uniqueApp(prefix = "t"): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

/** What sandfleet left on the engine for an app: the test's leak detector. */
export async function leftovers(app: string): Promise<{ containers: string[]; networks: string[] }> {
  const labels = { [LABEL.managed]: "true", [LABEL.app]: app };
  const [containers, networks] = await Promise.all([docker.containers.list(labels), docker.networks.list(labels)]);
  return { containers: containers.map((c) => c.name), networks: networks.map((n) => n.name) };
}

/** Removes everything an app's tests made, found by label. */
export async function cleanupApp(app: string): Promise<void> {
  const labels = { [LABEL.managed]: "true", [LABEL.app]: app };
  const containers = await docker.containers.list(labels);
  await Promise.all(containers.map((c) => docker.containers.remove(c.id)));
  const networks = await docker.networks.list(labels);
  await Promise.all(networks.map((n) => docker.networks.remove(n.id)));
}
