import { randomHex } from "../../digest.ts";
import type { Engine } from "../../engines/port.ts";
import { InvalidArgumentError, NotFoundError } from "../../errors.ts";
import { LABEL, ownershipLabels, scopeLabels } from "../engine-state/labels.ts";
import { imageRepository } from "../engine-state/names.ts";
import { connectionSettled } from "../supervisor/connections.ts";

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
  docker: Engine,
  containerId: string,
  params: { app: string; name?: string; owner?: "pulumi" | "runtime"; expiresInMs?: number },
): Promise<SnapshotState> {
  const expiresInMs = params.expiresInMs;
  if (expiresInMs !== undefined && (!Number.isInteger(expiresInMs) || expiresInMs <= 0)) {
    throw new InvalidArgumentError(`expiresInMs must be a positive whole number of ms, got ${String(expiresInMs)}`);
  }
  const container = await docker.containers.inspect(containerId);
  if (!container) throw new NotFoundError(`cannot snapshot sandbox ${containerId}: it no longer exists`);
  // The commit pauses the sandbox: never while one of our execs into it is starting.
  await connectionSettled(docker, containerId);
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
      ...(expiresInMs !== undefined ? { [LABEL.expiresAt]: String(Date.now() + expiresInMs) } : {}),
    }),
    env: source?.env ?? [],
    cmd: source?.cmd,
    entrypoint: source?.entrypoint,
    user: source?.user ?? "",
    workdir: source?.workdir ?? "",
  });
  return { imageRef: `${repo}:${tag}`, imageId, sourceContainerId: containerId };
}

/**
 * Removes the snapshots whose expiry has passed; one that a sandbox still
 * uses is kept until it does not. Returns the references removed (with
 * dryRun: those that would be).
 */
export async function expireSnapshots(
  docker: Engine,
  nowMs: number,
  params: { app?: string; dryRun?: boolean } = {},
): Promise<string[]> {
  const snapshots = await docker.images.list({ ...scopeLabels("snapshot", params.app), [LABEL.expiresAt]: "" });
  const expired = snapshots.filter((image) => Number(image.labels[LABEL.expiresAt]) <= nowMs);
  const removed: string[] = [];
  for (const tag of expired.flatMap((image) => image.tags)) {
    if (params.dryRun || (await docker.images.remove(tag)) === "removed") removed.push(tag);
  }
  return removed;
}
