import {
  drainPool,
  isClaimable,
  listMembers,
  poolExists,
  poolParamsProblems,
  reconcilePool,
  removePoolRecord,
  writePoolRecord,
  type PoolParams,
} from "../runtime/pools/pool.ts";
import { normalizeSandboxParams } from "../runtime/sandboxes/sandbox-params.ts";
import type { FullProvider } from "./delegate.ts";
import { engineLog } from "./engine-log.ts";
import { withPlainErrors } from "./plain-errors.ts";
import { changedKeys, pick } from "./diff.ts";
import { diskProblems, engineLimitProblems, engineOf, initFailure, type Props, releaseIfLast } from "./engine.ts";

export const POOL_INPUT_KEYS = [
  "app",
  "name",
  "replicas",
  "template",
  "secretEnv",
  "rollout",
  "dockerHost",
  "kubernetes",
] as const;
/** A new pool identity is a new pool; replicas, template and rollout change the members in place. */
const IDENTITY_KEYS = ["app", "name", "dockerHost", "kubernetes"] as const;

/** The runtime's view: secret values join the template only here, never in what a preview shows. */
export function paramsOf(props: Props): PoolParams {
  const template = props.template as PoolParams["template"];
  const secretEnv = props.secretEnv as Record<string, string> | undefined;
  return { ...(props as unknown as PoolParams), template: { ...template, ...(secretEnv ? { secretEnv } : {}) } };
}

async function readyCount(params: PoolParams): Promise<number> {
  const members = await listMembers(engineOf(params), params.app, params.name);
  return members.filter(isClaimable).length;
}

async function provision(props: Props): Promise<Props> {
  const params = paramsOf(props);
  const docker = engineOf(params);
  await writePoolRecord(docker, params);
  const { lost } = await reconcilePool(docker, params);
  for (const line of lost) engineLog(`[pool ${params.app}/${params.name}] `)(`replaced a member: ${line}`);
  return { ...props, readyCount: await readyCount(params) };
}

export const poolProvider: FullProvider = withPlainErrors({
  async check(_olds: Props, news: Props) {
    const failures = poolParamsProblems({ ...news, template: paramsOf(news).template });
    let omitPids = false;
    if (failures.length === 0) {
      const template = news.template as { diskMiB?: unknown; pidsLimit?: unknown; egress?: unknown };
      failures.push(...(await diskProblems(news, template.diskMiB, "template.diskMiB")));
      const limits = await engineLimitProblems(news, template, "template.");
      failures.push(...limits.problems);
      omitPids = limits.omitPids;
    }
    if (failures.length > 0) return { inputs: news, failures };
    // The template is compared with its defaults filled in, so a default spelled out is no change.
    const {
      app: _app,
      secretEnv: _secretEnv,
      pidsLimit,
      ...template
    } = normalizeSandboxParams({
      ...(news.template as PoolParams["template"]),
      app: news.app as string,
    });
    // A default the engine cannot hold is not asked of it (templateHash fills it in again).
    return {
      inputs: {
        ...news,
        template: { ...template, ...(omitPids ? {} : { pidsLimit }) },
        rollout: news.rollout ?? "rolling",
      },
    };
  },

  /**
   * Changes to the declaration, and members the pool lost to a fault (one
   * that died, an engine restart): those are drift, which the next `up`
   * repairs. A claimed member is not drift: it left the pool as pools are
   * meant to be used, and refilling is the agent's work, or `sandfleet up`'s,
   * which says what it refilled; a preview of a pool after claims is unchanged.
   */
  async diff(_id: string, olds: Props, news: Props) {
    const changes = changedKeys(olds, news, POOL_INPUT_KEYS);
    const replaces = changes.filter((k) => (IDENTITY_KEYS as readonly string[]).includes(k));
    const params = paramsOf(olds);
    const docker = engineOf(params);
    // Lost: a warm member that died, or the pool's own record gone (a destroy cut off half-way).
    const lost =
      replaces.length === 0 &&
      (!(await poolExists(docker, params.app, params.name)) ||
        (await listMembers(docker, params.app, params.name)).some(
          (m) => m.state === "warm" && ((!m.running && !m.paused) || m.trouble !== undefined),
        ));
    return { changes: changes.length > 0 || lost, replaces };
  },

  /** Returns once `replicas` members are ready; a member that never gets ready fails it, naming the probe. */
  async create(inputs: Props) {
    const id = `${String(inputs.app)}/${String(inputs.name)}`;
    try {
      return { id, outs: await provision(inputs) };
    } catch (error) {
      // Nothing half-made: the members that did get ready and the record go again.
      const params = paramsOf(inputs);
      const docker = engineOf(params);
      try {
        await drainPool(docker, params.app, params.name);
        await removePoolRecord(docker, params.app, params.name);
      } catch {
        // The engine cannot be asked (the usual reason for both failures): the pool is
        // recorded as made, so that the next `up` completes it and `destroy` removes it.
        throw initFailure((error as Error).message, id, { ...inputs, readyCount: 0 });
      }
      throw error;
    }
  },

  async read(id: string, props: Props) {
    const params = props as unknown as PoolParams;
    if (!(await poolExists(engineOf(params), params.app, params.name))) return {};
    return { id, props: { ...props, readyCount: await readyCount(params) }, inputs: pick(props, POOL_INPUT_KEYS) };
  },

  /** More or fewer members without touching the others; a new template rolls (or replaces all at once). */
  async update(_id: string, _olds: Props, news: Props) {
    return { outs: await provision(news) };
  },

  async delete(_id: string, props: Props) {
    const params = props as unknown as PoolParams;
    const docker = engineOf(params);
    await removePoolRecord(docker, params.app, params.name);
    await drainPool(docker, params.app, params.name);
    await releaseIfLast(docker, params.app);
  },
});
