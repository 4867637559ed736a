import { randomBytes } from "node:crypto";
import type { DockerClient } from "../docker/client.ts";
import type { ContainerInfo, ContainerStatus } from "../docker/types.ts";
import { ConflictError, InvalidArgumentError, NotFoundError } from "../errors.ts";
import { LABEL, tagsFromLabels } from "./labels.ts";
import { appNetworkName } from "./names.ts";
import {
  normalizeSandboxParams,
  sandboxContainerSpec,
  sandboxParamsProblems,
  type SandboxParams,
} from "./sandbox-params.ts";

/** What the engine says about a sandbox right now. */
export interface SandboxState {
  id: string;
  app: string;
  name: string;
  containerName: string;
  status: ContainerStatus;
  running: boolean;
  exitCode: number;
  tags: Record<string, string>;
  container: ContainerInfo;
}

export function generatedSandboxName(): string {
  return `sb-${randomBytes(4).toString("hex")}`;
}

/**
 * Creates and starts a sandbox. Fails before touching the engine on bad
 * parameters or a missing image; if the container was made but cannot start,
 * it is removed again, so a failure leaves nothing behind.
 */
export async function createSandbox(
  docker: DockerClient,
  params: SandboxParams,
  options: { owner?: string } = {},
): Promise<SandboxState> {
  const problems = sandboxParamsProblems({ ...params });
  if (problems.length > 0) {
    throw new InvalidArgumentError(`invalid sandbox: ${problems.map((p) => `${p.property} ${p.reason}`).join("; ")}`);
  }
  const normalized = normalizeSandboxParams(params);
  if (!(await docker.images.inspect(normalized.image))) {
    throw new NotFoundError(
      `image "${normalized.image}" not found on the Docker engine at ${docker.host}; build or load it first (sandfleet never pulls from a registry)`,
    );
  }
  if (normalized.network === "app" && !(await docker.networks.inspect(appNetworkName(normalized.app)))) {
    throw new NotFoundError(
      `app "${normalized.app}" has no network ${appNetworkName(normalized.app)}; create the App first`,
    );
  }
  const spec = sandboxContainerSpec(normalized, generatedSandboxName(), options.owner);
  let id: string;
  try {
    id = await docker.containers.create(spec);
  } catch (error) {
    if (error instanceof ConflictError) {
      throw new ConflictError(
        `sandbox name "${spec.labels[LABEL.name]}" is already taken in app "${normalized.app}" (container ${spec.name})`,
      );
    }
    throw error;
  }
  try {
    await docker.containers.start(id);
  } catch (error) {
    await docker.containers.remove(id);
    throw error;
  }
  const state = await inspectSandbox(docker, id);
  if (!state) throw new NotFoundError(`sandbox ${spec.name} disappeared right after it started`);
  return state;
}

export async function inspectSandbox(docker: DockerClient, id: string): Promise<SandboxState | undefined> {
  const container = await docker.containers.inspect(id);
  if (!container || container.labels[LABEL.kind] !== "sandbox") return undefined;
  return {
    id: container.id,
    app: container.labels[LABEL.app] ?? "",
    name: container.labels[LABEL.name] ?? "",
    containerName: container.name,
    status: container.status,
    running: container.running,
    exitCode: container.exitCode,
    tags: tagsFromLabels(container.labels),
    container,
  };
}

/** Removes the sandbox's container; one that is already gone is fine. */
export async function removeSandbox(docker: DockerClient, id: string): Promise<void> {
  await docker.containers.remove(id);
}
