import {
  createSandbox,
  inspectSandbox,
  removeSandbox,
  waitUntilReady,
  type SandboxState,
} from "../runtime/sandboxes/sandbox-ops.ts";
import {
  normalizeSandboxParams,
  sandboxParamsProblems,
  type SandboxParams,
} from "../runtime/sandboxes/sandbox-params.ts";
import { setEgress } from "../runtime/networks/egress.ts";
import type { FullProvider } from "./delegate.ts";
import { withPlainErrors } from "./plain-errors.ts";
import { changedKeys, pick } from "./diff.ts";
import { diskProblems, engineLimitProblems, engineOf, initFailure, type Props, releaseIfLast } from "./engine.ts";
import { engineLog } from "./engine-log.ts";

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
  "diskMiB",
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
  "idleAction",
  "egress",
  "supervisor",
  "dockerHost",
  "kubernetes",
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

/** The declaration a sandbox comes from, as its resource class names it (see `declaredBy` in createSandbox). */
function declaredBy(props: Props): { declaredBy?: string } {
  return typeof props.declaredBy === "string" ? { declaredBy: props.declaredBy } : {};
}

function stoppedReport(olds: Props, live: SandboxState | undefined): string {
  const name = typeof olds.containerName === "string" ? olds.containerName : "";
  if (!live) return `sandbox ${name} no longer exists; this update makes it again`;
  const why = live.container.oomKilled ? " (out of memory)" : "";
  return `sandbox ${name} stopped with exit code ${String(live.exitCode)}${why}; this update replaces it`;
}

/**
 * What an `up` does to a sandbox: inputs that Docker cannot change in place
 * replace it; a declared sandbox that stopped (exited, killed, ended by a
 * timeout, or an engine restart) or was removed is brought back, refresh or not.
 */
export function sandboxDiff(olds: Props, news: Props, live: { running: boolean } | undefined) {
  const changes = changedKeys(olds, news, SANDBOX_INPUT_KEYS);
  const stopped = olds.running === false || !live?.running;
  // A changed allowlist is a new policy for the same container; gaining or losing one is another network.
  const egressInPlace = olds.egress !== undefined && news.egress !== undefined;
  const replaces = [
    ...changes.filter((key) => !UPDATABLE_IN_PLACE.has(key) && !(key === "egress" && egressInPlace)),
    ...(stopped ? ["running"] : []),
  ];
  return {
    changes: changes.length > 0 || stopped,
    replaces,
    // A named sandbox keeps its container name, which must be free again first.
    deleteBeforeReplace: replaces.length > 0 && typeof news.name === "string",
  };
}

export const sandboxProvider: FullProvider = withPlainErrors({
  async check(_olds: Props, news: Props) {
    const failures = sandboxParamsProblems(news);
    if (failures.length === 0) failures.push(...(await diskProblems(news, news.diskMiB, "diskMiB")));
    const limits = failures.length === 0 ? await engineLimitProblems(news, news) : undefined;
    failures.push(...(limits?.problems ?? []));
    if (failures.length > 0) return { inputs: news, failures };
    const { pidsLimit, ...normalized } = normalizeSandboxParams(news as unknown as SandboxParams);
    return { inputs: { ...normalized, ...(limits?.omitPids ? {} : { pidsLimit }), ...declaredBy(news) } };
  },

  async diff(id: string, olds: Props, news: Props) {
    // Asking the engine also makes a preview fail, rather than report stale outputs, when it is gone.
    const live = await inspectSandbox(engineOf(news), id);
    const result = sandboxDiff(olds, news, live);
    if (result.replaces.includes("running")) engineLog("")(stoppedReport(olds, live));
    return result;
  },

  async create(inputs: Props) {
    const docker = engineOf(inputs);
    const state = await createSandbox(docker, inputs as unknown as SandboxParams, {
      owner: "pulumi",
      ...declaredBy(inputs),
    });
    if (state.readiness) {
      try {
        await waitUntilReady(docker, state);
      } catch (error) {
        // The id reaches Pulumi even when the engine cannot be asked any more.
        const latest = (await inspectSandbox(docker, state.id).catch(() => undefined)) ?? state;
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
    if (state && changedKeys(olds, news, ["egress"]).length > 0) {
      await setEgress(docker, state, params.egress?.allow ?? []);
    }
    return { outs: state ? outputsOf(news, state) : news };
  },

  async delete(id: string, props: Props) {
    const docker = engineOf(props);
    await removeSandbox(docker, id);
    if (typeof props.app === "string") await releaseIfLast(docker, props.app);
  },
});
