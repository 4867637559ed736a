import type { SandboxParams } from "../runtime/sandbox-params.ts";
import type { SandfleetSpec, SpecSandbox } from "./types.ts";

/** `512Mi` -> 512, `2Gi` -> 2048. The schema has already checked the form. */
export function sizeToMiB(size: string): number {
  const match = /^([1-9][0-9]*)(Mi|Gi)$/.exec(size);
  if (!match) throw new Error(`not a size: ${size}`);
  return Number(match[1]) * (match[2] === "Gi" ? 1024 : 1);
}

/** The runtime parameters for one sandbox of a spec. */
export function sandboxParamsFromSpec(spec: SandfleetSpec, name: string, sandbox: SpecSandbox): SandboxParams {
  return {
    app: spec.app,
    name,
    image: sandbox.image,
    ...(sandbox.command ? { command: sandbox.command } : {}),
    ...(sandbox.entrypoint ? { entrypoint: sandbox.entrypoint } : {}),
    ...(sandbox.env ? { env: sandbox.env } : {}),
    ...(sandbox.workdir ? { workdir: sandbox.workdir } : {}),
    ...(sandbox.cpu !== undefined ? { cpu: sandbox.cpu } : {}),
    ...(sandbox.memory !== undefined ? { memoryMiB: sizeToMiB(sandbox.memory) } : {}),
    ...(sandbox.pids !== undefined ? { pidsLimit: sandbox.pids } : {}),
    ...(sandbox.user ? { user: sandbox.user } : {}),
    ...(sandbox.readOnlyRootfs !== undefined ? { readOnlyRootfs: sandbox.readOnlyRootfs } : {}),
    ...(sandbox.network ? { network: sandbox.network } : {}),
    ...(sandbox.runtime ? { runtime: sandbox.runtime } : {}),
    ...(sandbox.tags ? { tags: sandbox.tags } : {}),
    ...(spec.dockerHost ? { dockerHost: spec.dockerHost } : {}),
  };
}
