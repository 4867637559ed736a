import {
  createSandbox,
  inspectSandbox,
  removeSandbox,
  waitUntilReady,
  type SandboxState,
} from "../runtime/sandbox-ops.ts";
import { normalizeSandboxParams, sandboxParamsProblems, type SandboxParams } from "../runtime/sandbox-params.ts";
import type { FullProvider } from "./delegate.ts";
import { changedKeys, pick } from "./diff.ts";
import { engineOf, type Props } from "./engine.ts";

/** Inputs of the Sandbox resource, in the order a preview lists them. */
export const SANDBOX_INPUT_KEYS = [
  "app",
  "name",
  "image",
  "command",
  "entrypoint",
  "env",
  "workdir",
  "cpu",
  "memoryMiB",
  "pidsLimit",
  "user",
  "readOnlyRootfs",
  "network",
  "runtime",
  "tags",
  "volumes",
  "secretEnv",
  "ports",
  "readiness",
  "timeoutMs",
  "idleTimeoutMs",
  "dockerHost",
] as const;

/** Docker changes these on a running container; every other change replaces it. */
const UPDATABLE_IN_PLACE = new Set<string>(["cpu", "memoryMiB", "pidsLimit"]);

function outputsOf(inputs: Props, state: SandboxState): Props {
  return {
    ...inputs,
    containerId: state.id,
    containerName: state.containerName,
    sandboxName: state.name,
    status: state.status,
    running: state.running,
    // Pulumi outputs are JSON: port numbers become string keys.
    publishedPorts: Object.fromEntries(Object.entries(state.ports).map(([k, v]) => [k, v])),
  };
}

/**
 * A create that failed after the container existed: Pulumi records the id and
 * properties, so the next `up` replaces it and `destroy` removes it.
 */
function initFailure(message: string, id: string, properties: Props): Error {
  return Object.assign(new Error(message), { id, properties, reasons: [message] });
}

export const sandboxProvider: FullProvider = {
  async check(_olds: Props, news: Props) {
    const failures = sandboxParamsProblems(news);
    if (failures.length > 0) return { inputs: news, failures };
    return { inputs: normalizeSandboxParams(news as unknown as SandboxParams) };
  },

  async diff(_id: string, olds: Props, news: Props) {
    const changes = changedKeys(olds, news, SANDBOX_INPUT_KEYS);
    // A declared sandbox that a refresh found stopped (exited, killed, ended by a timeout) is
    // brought back by the next up, as one that was removed is.
    const stopped = olds.running === false;
    const replaces = [...changes.filter((key) => !UPDATABLE_IN_PLACE.has(key)), ...(stopped ? ["running"] : [])];
    return {
      changes: changes.length > 0 || stopped,
      replaces,
      // A named sandbox keeps its container name, which must be free again first.
      deleteBeforeReplace: replaces.length > 0 && typeof news.name === "string",
    };
  },

  async create(inputs: Props) {
    const docker = engineOf(inputs);
    const state = await createSandbox(docker, inputs as unknown as SandboxParams, { owner: "pulumi" });
    if (state.readiness) {
      try {
        await waitUntilReady(docker, state);
      } catch (error) {
        const latest = (await inspectSandbox(docker, state.id)) ?? state;
        throw initFailure((error as Error).message, state.id, outputsOf(inputs, latest));
      }
    }
    return { id: state.id, outs: outputsOf(inputs, state) };
  },

  async read(id: string, props: Props) {
    const docker = engineOf(props);
    const state = await inspectSandbox(docker, id);
    // No id tells the engine the container is gone; the next `up` recreates it.
    if (!state) return {};
    const inputs = {
      ...pick(props, SANDBOX_INPUT_KEYS),
      // Limits changed behind Pulumi's back show up as a diff on the next preview.
      cpu: state.container.nanoCpus / 1e9,
      memoryMiB: state.container.memoryBytes / (1024 * 1024),
      pidsLimit: state.container.pidsLimit,
    };
    return { id, props: { ...outputsOf(inputs, state), exitCode: state.exitCode }, inputs };
  },

  async update(id: string, olds: Props, news: Props) {
    const docker = engineOf(news);
    const changes = changedKeys(olds, news, [...UPDATABLE_IN_PLACE]);
    const params = normalizeSandboxParams(news as unknown as SandboxParams);
    await docker.containers.update(id, {
      ...(changes.includes("cpu") ? { nanoCpus: Math.round(params.cpu * 1e9) } : {}),
      ...(changes.includes("memoryMiB") ? { memoryBytes: params.memoryMiB * 1024 * 1024 } : {}),
      ...(changes.includes("pidsLimit") ? { pidsLimit: params.pidsLimit } : {}),
    });
    const state = await inspectSandbox(docker, id);
    return { outs: state ? outputsOf(news, state) : news };
  },

  async delete(id: string, props: Props) {
    await removeSandbox(engineOf(props), id);
  },
};
