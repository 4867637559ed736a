// The current-engine project's tests fail, loudly, when that engine does not
// answer or lacks the base images: they must never pass on the main engine instead.
import { connectDocker } from "../../provider/engines/docker/client.ts";
import { currentEngineHost } from "./current-engine.ts";

export default async function requireCurrentEngine(): Promise<void> {
  const host = currentEngineHost();
  const docker = connectDocker(host);
  try {
    await docker.ping();
  } catch (error) {
    throw new Error(
      `These tests need the current Docker Engine at ${host} and none answered (${String(error)}). ` +
        "scripts/bootstrap builds and starts it (scripts/lib/engine-current.sh up).",
      { cause: error },
    );
  }
  for (const image of ["sandfleet/busybox", "sandfleet/python"]) {
    if (!(await docker.images.inspect(image))) {
      throw new Error(`base image ${image} is missing on the current engine at ${host}; run scripts/bootstrap`);
    }
  }
}
