import type { EngineTarget } from "../engines/connect.ts";
import type { SandboxParams } from "../runtime/sandboxes/sandbox-params.ts";
import type { SandfleetSpec, SpecFieldsAsInApi, SpecSandbox } from "./types.ts";
import { parseDuration, parseSizeMiB } from "./units.ts";

/**
 * Every field of the API's SandboxParams, as the YAML has it: the same field, a field in the
 * YAML's units (`memory` → memoryMiB), or the file's own level (app, dockerHost, kubernetes) and a
 * name the spec gives (`name`). A field added to the API and decided nowhere here is a compile
 * error, so the two doors cannot drift apart unnoticed.
 */
type ApiFieldsInYamlUnits =
  | "image"
  | "secretEnv"
  | "volumes"
  | "memoryMiB"
  | "diskMiB"
  | "pidsLimit"
  | "readiness"
  | "timeoutMs"
  | "idleTimeoutMs"
  | "egress";
type ApiFieldsOfTheFile = "app" | "name" | "dockerHost" | "kubernetes";
type Undecided = Exclude<keyof SandboxParams, SpecFieldsAsInApi | ApiFieldsInYamlUnits | ApiFieldsOfTheFile>;
export const specCoversApi: [Undecided] extends [never] ? true : { undecided: Undecided } = true;

/** Whether an `image:` value is a local reference rather than the name of an image or snapshot. */
export function isImageReference(image: string): boolean {
  return image.includes("/") || image.includes(":");
}

function duration(text: string | undefined): number | undefined {
  return text === undefined ? undefined : parseDuration(text);
}

/**
 * The runtime parameters of a sandbox (or pool template) of a spec, less
 * what refers to other entries: image, secrets and volumes are resolved by
 * the caller, which knows the resources.
 */
export function sandboxParamsFromSpec(
  spec: SandfleetSpec,
  sandbox: SpecSandbox,
): Omit<SandboxParams, "app" | "image" | "volumes" | "secretEnv"> {
  const memoryMiB = sandbox.memory === undefined ? undefined : parseSizeMiB(sandbox.memory);
  const diskMiB = sandbox.disk === undefined ? undefined : parseSizeMiB(sandbox.disk);
  const readiness = sandbox.readiness;
  return {
    ...(sandbox.command ? { command: sandbox.command } : {}),
    ...(sandbox.entrypoint ? { entrypoint: sandbox.entrypoint } : {}),
    ...(sandbox.env ? { env: sandbox.env } : {}),
    ...(sandbox.workdir ? { workdir: sandbox.workdir } : {}),
    ...(sandbox.cpu !== undefined ? { cpu: sandbox.cpu } : {}),
    ...(memoryMiB !== undefined ? { memoryMiB } : {}),
    ...(diskMiB !== undefined ? { diskMiB } : {}),
    ...(sandbox.pids !== undefined ? { pidsLimit: sandbox.pids } : {}),
    ...(sandbox.user ? { user: sandbox.user } : {}),
    ...(sandbox.readOnlyRootfs !== undefined ? { readOnlyRootfs: sandbox.readOnlyRootfs } : {}),
    ...(sandbox.network ? { network: sandbox.network } : {}),
    ...(sandbox.ports ? { ports: sandbox.ports } : {}),
    ...(readiness
      ? {
          readiness: {
            ...(readiness.tcp !== undefined ? { tcpPort: readiness.tcp } : {}),
            ...(readiness.exec ? { exec: readiness.exec } : {}),
            ...(readiness.interval ? { intervalMs: duration(readiness.interval) } : {}),
            ...(readiness.timeout ? { timeoutMs: duration(readiness.timeout) } : {}),
          },
        }
      : {}),
    ...(sandbox.timeout ? { timeoutMs: duration(sandbox.timeout) } : {}),
    ...(sandbox.idleTimeout ? { idleTimeoutMs: duration(sandbox.idleTimeout) } : {}),
    ...(sandbox.idleAction ? { idleAction: sandbox.idleAction } : {}),
    ...(sandbox.egress ? { egress: { allow: sandbox.egress.allow } } : {}),
    ...(sandbox.runtime ? { runtime: sandbox.runtime } : {}),
    ...(sandbox.supervisor !== undefined ? { supervisor: sandbox.supervisor } : {}),
    ...(sandbox.tags ? { tags: sandbox.tags } : {}),
    ...specEngine(spec),
  };
}

/** The engine a spec names: its cluster, or its Docker host, or neither (the environment's). */
export function specEngine(spec: SandfleetSpec): EngineTarget {
  return {
    ...(spec.dockerHost ? { dockerHost: spec.dockerHost } : {}),
    ...(spec.kubernetes ? { kubernetes: spec.kubernetes } : {}),
  };
}
