import { connectEngine } from "../engines/connect.ts";
import type { Engine } from "../engines/port.ts";
import { EngineUnavailableError } from "../errors.ts";
import { egressEntriesRefused, egressRefusedBy } from "../runtime/networks/egress-rules.ts";
import { diskBoundProblem } from "../runtime/sandboxes/disk.ts";
import { LABEL } from "../runtime/engine-state/labels.ts";
import { engineLog } from "./engine-log.ts";

/** The properties the engine hands a dynamic provider: inputs, or inputs and outputs. */
export type Props = Record<string, unknown>;

/** The engine a resource lives on: its cluster (`kubernetes`), else its `dockerHost`, else the local Docker engine. */
export function engineOf(props: { dockerHost?: unknown; kubernetes?: unknown }): Engine {
  return connectEngine({
    dockerHost: typeof props.dockerHost === "string" ? props.dockerHost : undefined,
    // Its fields are all optional strings; the schema and the App's type check them before here.
    kubernetes: props.kubernetes && typeof props.kubernetes === "object" ? props.kubernetes : undefined,
  });
}

/**
 * Fails unless the resource's engine answers. A diff calls it, so that a
 * preview or up against an engine that went away fails naming the engine,
 * instead of reporting "unchanged" from the outputs of the last run.
 */
export async function requireEngine(props: Props): Promise<void> {
  await engineOf(props).ping();
}

/** Removes one image reference; an image a container still uses is kept, and the log says so. */
export async function removeImageUnlessUsed(props: Props, ref: string, what: string): Promise<void> {
  if ((await engineOf(props).images.remove(ref)) === "in-use") {
    engineLog("")(`${what} ${ref} is still used by a container, so it stays`);
  }
}

/**
 * A create that failed after something was made: Pulumi records the id and
 * properties, so the next `up` replaces it and `destroy` removes it.
 */
export function initFailure(message: string, id: string, properties: Props): Error {
  return Object.assign(new Error(message), { id, properties, reasons: [message] });
}

/**
 * `check`'s word on a disk bound the engine cannot enforce. An engine that
 * cannot be asked says nothing here: the diff that follows fails naming it.
 */
export async function diskProblems(
  props: Props,
  diskMiB: unknown,
  property: string,
): Promise<{ property: string; reason: string }[]> {
  if (diskMiB === undefined) return [];
  const docker = engineOf(props);
  let info;
  try {
    info = await docker.info();
  } catch (error) {
    if (error instanceof EngineUnavailableError) return [];
    throw error;
  }
  const reason = diskBoundProblem(info);
  return reason ? [{ property, reason }] : [];
}

/**
 * What a sandbox (or a pool's template) asks that its engine cannot hold, in
 * the engine's words, at `prefix` + the property: a pids bound of its own,
 * and allowlist entries of a kind it cannot keep (Kubernetes: names). When
 * the resource names no pids bound and the engine has none to give, `check`
 * leaves sandfleet's default out of the inputs (`omitPids`), so that create
 * asks for nothing the engine would ignore. An engine out of reach is
 * judged at create instead, with the same words.
 */
export async function engineLimitProblems(
  props: Props,
  params: { pidsLimit?: unknown; egress?: unknown },
  prefix = "",
): Promise<{ problems: { property: string; reason: string }[]; omitPids: boolean }> {
  let info;
  try {
    info = await engineOf(props).info();
  } catch (error) {
    if (error instanceof EngineUnavailableError) return { problems: [], omitPids: false };
    throw error;
  }
  const { pidsBound } = info.capabilities;
  const problems: { property: string; reason: string }[] = [];
  if (!pidsBound.supported && params.pidsLimit !== undefined)
    problems.push({ property: `${prefix}pidsLimit`, reason: pidsBound.why });
  const allow = (params.egress as { allow?: unknown } | undefined)?.allow;
  for (const { index, reason } of egressEntriesRefused(
    Array.isArray(allow) ? allow : [],
    egressRefusedBy(info.capabilities),
  ))
    problems.push({ property: `${prefix}egress.allow[${String(index)}]`, reason });
  return { problems, omitPids: !pidsBound.supported && params.pidsLimit === undefined };
}

/**
 * After a resource of `app` went: when it was the app's last sandbox (none
 * left but ones being removed), what the engine made for the app beside its
 * objects goes too (Engine.releaseApp). Each deleter looks after its own
 * removal, so of two that end an app's last sandboxes at once, the later sees
 * the other's gone.
 */
export async function releaseIfLast(docker: Engine, app: string): Promise<void> {
  if (!docker.releaseApp) return;
  const left = await docker.containers.list({ [LABEL.managed]: "true", [LABEL.app]: app });
  if (left.some((c) => c.status !== "removing")) return;
  await docker.releaseApp(app);
}
