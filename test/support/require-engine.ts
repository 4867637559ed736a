// Tests that need a Docker engine fail, loudly, when none answers: a skipped
// integration test must never pass for a tested one.
import { connectDocker } from "../../provider/engines/docker/client.ts";

export default async function requireEngine(): Promise<void> {
  const docker = connectDocker();
  try {
    await docker.ping();
  } catch (error) {
    throw new Error(
      `These tests need a running Docker engine at ${docker.host} and none answered (${String(error)}). ` +
        "Run them through `npm test`, which starts one (scripts/bootstrap).",
      { cause: error },
    );
  }
  for (const image of ["sandfleet/busybox", "sandfleet/python"]) {
    if (!(await docker.images.inspect(image))) {
      throw new Error(`base image ${image} is missing; run scripts/bootstrap`);
    }
  }
}
