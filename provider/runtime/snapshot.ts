import { randomHex } from "../digest.ts";
import type { DockerClient } from "../docker/client.ts";
import { NotFoundError } from "../errors.ts";
import { LABEL, ownershipLabels } from "./labels.ts";
import { imageRepository } from "./names.ts";

export interface SnapshotState {
  imageRef: string;
  imageId: string;
  sourceContainerId: string;
}

/**
 * Commits a sandbox's filesystem to an image a new sandbox can start from.
 * The image keeps the config of the image the sandbox was made from, not the
 * sandbox's own: its environment may hold secret values, which must not be
 * baked into an image, and its labels name another sandbox.
 */
export async function snapshotSandbox(
  docker: DockerClient,
  containerId: string,
  params: { app: string; name?: string; owner?: "pulumi" | "runtime" },
): Promise<SnapshotState> {
  const container = await docker.containers.inspect(containerId);
  if (!container) throw new NotFoundError(`cannot snapshot sandbox ${containerId}: it no longer exists`);
  const source = await docker.images.inspect(container.imageId);
  const name = params.name ?? `snapshot-${randomHex(4)}`;
  const repo = imageRepository(params.app, "snapshots");
  const tag = `${name.toLowerCase()}-${Date.now().toString(36)}`;
  const imageId = await docker.images.commit(containerId, {
    repo,
    tag,
    labels: ownershipLabels(params.app, "snapshot", {
      [LABEL.name]: name,
      [LABEL.source]: container.name,
      [LABEL.owner]: params.owner ?? "pulumi",
    }),
    env: source?.env ?? [],
    cmd: source?.cmd,
    entrypoint: source?.entrypoint,
    user: source?.user ?? "",
    workdir: source?.workdir ?? "",
  });
  return { imageRef: `${repo}:${tag}`, imageId, sourceContainerId: containerId };
}
