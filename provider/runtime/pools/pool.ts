import { randomHex, sha256Hex } from "../../digest.ts";
import type { Engine } from "../../engines/port.ts";
import {
  ConflictError,
  EngineError,
  EngineUnavailableError,
  InvalidArgumentError,
  NotFoundError,
  PoolExhaustedError,
  SandboxLostError,
} from "../../errors.ts";
import { BOUNDS, enumProblem, numberProblem } from "../../rules.ts";
import { LABEL, ownershipLabels, scopeLabels } from "../engine-state/labels.ts";
import { currentMaker, makerIsGone } from "../local/maker.ts";
import { identityProblems, objectName } from "../engine-state/names.ts";
import { poolLockName, withPoolLock } from "./pool-lock.ts";
import { memberName, parseMember, type PoolMember } from "../engine-state/pool-members.ts";
import { WarmMembers } from "./warm-members.ts";
import { systemClock, type Clock } from "../local/poll.ts";
import { READINESS_DEFAULTS } from "../engine-state/readiness.ts";
import { createSandbox, inspectSandbox, removeSandbox, waitUntilReady } from "../sandboxes/sandbox-ops.ts";
import {
  normalizeSandboxParams,
  sandboxParamsProblems,
  type PropertyProblem,
  type SandboxParams,
} from "../sandboxes/sandbox-params.ts";

export { memberName, parseMember, type MemberState, type PoolMember } from "../engine-state/pool-members.ts";

/** The sandbox every member of a pool is made from. */
export type PoolTemplate = Omit<SandboxParams, "app" | "name" | "dockerHost">;

export interface PoolParams {
  app: string;
  name: string;
  /** How many ready members to keep. */
  replicas: number;
  template: PoolTemplate;
  /** "rolling" (default): a template change replaces members one at a time, keeping the ready count. */
  rollout?: "rolling" | "all-at-once";
  dockerHost?: string;
}

export const MAX_REPLICAS = BOUNDS.replicas.max;
const ROLLOUTS: readonly unknown[] = ["rolling", "all-at-once"];

/** Time a maker may be silent past its readiness timeout before its pending member counts as abandoned. */
const PENDING_GRACE_MS = 30_000;

/**
 * A pending member nobody will finish: its maker (an `up`, an agent) was
 * killed, or it has been pending longer than its probe may take.
 */
export function isAbandoned(member: PoolMember, template: PoolTemplate, nowMs: number): boolean {
  if (member.state !== "pending") return false;
  const probeMs = template.readiness?.timeoutMs ?? READINESS_DEFAULTS.timeoutMs;
  return makerIsGone(member.maker) || nowMs - member.createdMs > probeMs + PENDING_GRACE_MS;
}

export function poolParamsProblems(params: Readonly<Record<string, unknown>>): PropertyProblem[] {
  const problems: PropertyProblem[] = identityProblems(params);
  // The schema's words for the same bounds: one verdict from sandfleet.yaml and from here.
  const replicasProblem = numberProblem(params.replicas, BOUNDS.replicas);
  if (replicasProblem) problems.push({ property: "replicas", reason: replicasProblem });
  const rolloutProblem = params.rollout === undefined ? undefined : enumProblem(params.rollout, ROLLOUTS);
  if (rolloutProblem) problems.push({ property: "rollout", reason: rolloutProblem });
  const template = params.template;
  if (typeof template !== "object" || template === null) problems.push({ property: "template", reason: "is required" });
  else {
    for (const p of sandboxParamsProblems({ ...template, app: params.app })) {
      if (p.property !== "app") problems.push({ property: `template.${p.property}`, reason: p.reason });
    }
    if ("name" in template) problems.push({ property: "template.name", reason: "members are named by the pool" });
  }
  return problems;
}

/** Hash of the normalized template: members of another template are rolled. Secret values count, unprinted. */
export function templateHash(template: PoolTemplate): string {
  const normalized = normalizeSandboxParams({ ...template, app: "-" });
  return sha256Hex(JSON.stringify(normalized)).slice(0, 16);
}

/** The pool's members, oldest first (engines list in orders of their own: Docker's is newest first). */
export async function listMembers(docker: Engine, app: string, pool: string): Promise<PoolMember[]> {
  const containers = await docker.containers.list({ [LABEL.managed]: "true", [LABEL.app]: app, [LABEL.pool]: pool });
  return containers
    .map((c) => parseMember(app, pool, c))
    .filter((m): m is PoolMember => m !== undefined)
    .sort((a, b) => a.createdMs - b.createdMs);
}

/**
 * Makes one member: pending until its readiness probe passes, then warm.
 * A member that never becomes ready is removed and the failure thrown.
 */
export async function addMember(docker: Engine, params: PoolParams, clock: Clock = systemClock): Promise<PoolMember> {
  const memberId = randomHex(4);
  const hash = templateHash(params.template);
  const state = await createSandbox(
    docker,
    { ...params.template, app: params.app, name: `${params.name}-p-${memberId}` },
    {
      owner: "pulumi",
      extraLabels: { [LABEL.pool]: params.name, [LABEL.template]: hash, [LABEL.maker]: currentMaker() },
      dockerName: memberName(params.app, params.name, "p", memberId),
      warm: true,
    },
  );
  const warmName = memberName(params.app, params.name, "w", memberId);
  try {
    if (state.readiness) await waitUntilReady(docker, state, { clock });
    await docker.containers.rename(state.id, warmName);
  } catch (error) {
    await removeSandbox(docker, state.id);
    throw error;
  }
  return {
    id: state.id,
    containerName: warmName,
    memberId,
    state: "warm",
    templateHash: hash,
    running: true,
    paused: false,
    createdMs: clock.now(),
    maker: undefined,
  };
}

/** What a reconcile did: members made and removed, and a line for each it removed because the engine said it was lost. */
export interface Refill {
  added: number;
  removed: number;
  /**
   * One line per member the engine ended (its node lost, an eviction), naming the pod, its node and
   * why: "node-lost: pod sf-… on node …: …" for one removed and replaced, "pod sf-… cannot start:
   * node-lost: …; made another" for one lost while it started.
   */
  lost: string[];
}

/** Times a member the engine lost while it started (its node lost) is made again before the refill fails. */
const LOST_RETRIES = 2;

/** addMember, made again on another try when the engine lost the one it made; each loss said in `lost`. */
async function addMemberAnew(
  docker: Engine,
  params: PoolParams,
  lost: string[],
  clock: Clock = systemClock,
): Promise<PoolMember> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await addMember(docker, params, clock);
    } catch (error) {
      if (!(error instanceof SandboxLostError) || attempt >= LOST_RETRIES) throw error;
      lost.push(`${error.message}; made another`);
    }
  }
}

/**
 * Brings the pool to `replicas` warm members of the current template. Extra
 * members go first; members of an old template are replaced one at a time
 * (rolling: a new one is ready before an old one goes) or all at once.
 * One maker at a time (pool-lock.ts): with `wait: false` a pool another maker
 * is filling is left to it (`busy`).
 */
export async function reconcilePool(
  docker: Engine,
  params: PoolParams,
  options: { wait?: boolean; clock?: Clock } = {},
): Promise<Refill & { busy: boolean }> {
  const clock = options.clock ?? systemClock;
  const probeMs = params.template.readiness?.timeoutMs ?? READINESS_DEFAULTS.timeoutMs;
  const held = await withPoolLock(
    docker,
    {
      app: params.app,
      pool: params.name,
      ttlMs: 2 * probeMs + 2 * PENDING_GRACE_MS,
      wait: options.wait ?? true,
      clock,
    },
    () => reconcileHeld(docker, params, clock),
  );
  return held ? { ...held.done, busy: false } : { added: 0, removed: 0, lost: [], busy: true };
}

/** reconcilePool's work, done by the one maker that holds the pool's lock. */
async function reconcileHeld(docker: Engine, params: PoolParams, clock: Clock): Promise<Refill> {
  const hash = templateHash(params.template);
  const members = (await listMembers(docker, params.app, params.name)).filter((m) => m.state !== "claimed");
  // Members left pending by a killed maker would otherwise count as current forever.
  const now = clock.now();
  // A pending member another maker (an `up`, an agent) is still making may not be running yet:
  // it is dead only once abandoned. Any other member that is not running is dead.
  // A paused member is alive: its memory is kept, and it resumes on use.
  // One the engine has ended (its node lost, evicted) is dead whatever its state: removed at
  // once, for its node may never confirm. One that runs but is not Ready stays, uncounted, while
  // another takes its place; if it becomes Ready again, the extra goes.
  const dead = members.filter((m) =>
    m.trouble?.ended ? true : m.state === "pending" ? isAbandoned(m, params.template, now) : !m.running && !m.paused,
  );
  const live = members.filter((m) => !dead.includes(m));
  const current = live.filter((m) => m.templateHash === hash && !m.trouble);
  const old = live.filter((m) => m.templateHash !== hash && !m.trouble);
  let added = 0;
  let removed = 0;
  const lost = dead.flatMap((m) => (m.trouble ? [`${m.trouble.reason}: ${m.trouble.detail}`] : []));

  const remove = async (list: PoolMember[]) => {
    await Promise.all(list.map((m) => removeSandbox(docker, m.id)));
    removed += list.length;
  };
  const add = async (count: number) => {
    // Every attempt settles before a failure is reported, so none is left half-made behind it.
    const results = await Promise.allSettled(
      Array.from({ length: count }, () => addMemberAnew(docker, params, lost, clock)),
    );
    added += results.filter((r) => r.status === "fulfilled").length;
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
  };

  await remove(dead);
  // Too many of the current template: the newest go, the longest-warm stay.
  if (current.length > params.replicas) await remove(current.slice(params.replicas));
  const keepOld = Math.max(0, Math.min(old.length, params.replicas - Math.min(current.length, params.replicas)));
  await remove(old.slice(keepOld));
  const oldKept = old.slice(0, keepOld);
  const missing = Math.max(0, params.replicas - Math.min(current.length, params.replicas) - oldKept.length);
  if (params.rollout === "all-at-once") {
    await remove(oldKept);
    await add(missing + oldKept.length);
  } else {
    await add(missing);
    for (const stale of oldKept) {
      await add(1);
      await remove([stale]);
    }
  }
  return { added, removed, lost };
}

/**
 * Removes the pool's members. Claimed ones belong to their claimers while the
 * pool lives; when the pool itself goes (`destroy`, or its removal from the
 * file), they go with it, as a Modal app's sandboxes end with the app.
 */
export async function drainPool(docker: Engine, app: string, pool: string): Promise<void> {
  const members = await listMembers(docker, app, pool);
  // Every removal runs to its end (the engine paces them), and each the engine left half-done is
  // told by name: one failure must not hide the others, nor stop them.
  const outcomes = await Promise.allSettled(members.map((m) => removeSandbox(docker, m.id)));
  const failures = outcomes.flatMap((outcome, i) =>
    outcome.status === "rejected" ? [{ member: members[i], error: outcome.reason as Error }] : [],
  );
  const unreachable = failures.find((f) => f.error instanceof EngineUnavailableError);
  if (unreachable) throw unreachable.error;
  if (failures.length > 0) {
    throw new EngineError(
      `${String(failures.length)} of pool ${app}/${pool}'s ${String(members.length)} members were not removed; ` +
        `run the destroy again once the engine has finished them:\n` +
        failures.map((f) => `  ${f.member?.containerName ?? ""}: ${f.error.message}`).join("\n"),
    );
  }
  await docker.records.remove(poolLockName(app, pool));
}

export interface ClaimParams {
  /** Wait this long for a member when none is ready; default 0: fail at once. */
  waitMs?: number;
  clock?: Clock;
}

/**
 * Takes one warm member atomically: it leaves the pool and is the claimer's.
 * Fails with PoolExhaustedError when none is ready (after `waitMs`).
 *
 * The critical path is one conditioned rename (warm → claimed, only while
 * the member is still warm), tried on a member the client listed before
 * (`warm`) that no other claimer of the client was given. A listing is made
 * only when the client has none left, and claimers that run out together
 * share it. The claim record (when it was claimed and what the claimer
 * waited) is written after the caller has its sandbox; a claimer that dies
 * before it lands loses nothing, since the agent counts a claimed member
 * without a record from when it first sees it.
 */
export async function claimMember(
  docker: Engine,
  app: string,
  pool: string,
  params: ClaimParams = {},
  warm?: WarmMembers,
): Promise<string> {
  const clock = params.clock ?? systemClock;
  const members = warm ?? new WarmMembers(clock);
  const startedMs = clock.now();
  const deadline = startedMs + (params.waitMs ?? 0);
  // Only a listing begun after this round began may tell that the pool has nothing for it.
  let after = members.finished(app, pool);
  for (;;) {
    let member = members.next(app, pool);
    if (!member) {
      const found = await members.refresh(app, pool, after, () => listWarm(docker, app, pool));
      if (found === 0 && !(await poolExists(docker, app, pool))) {
        throw new InvalidArgumentError(`app "${app}" has no pool "${pool}"`);
      }
      member = members.next(app, pool);
    }
    if (!member) {
      if (clock.now() >= deadline) {
        throw new PoolExhaustedError(`pool "${pool}" of app "${app}" is exhausted: no ready member to claim`);
      }
      await clock.sleep(50);
      after = members.finished(app, pool);
      continue;
    }
    try {
      await docker.containers.rename(member.id, memberName(app, pool, "c", member.memberId), {
        from: member.containerName,
      });
    } catch (error) {
      // Taken (no longer warm, or the name exists) or gone (removed meanwhile): another claimer or a
      // reconcile won this one. Anything else, such as an engine that went away, is the caller's to hear about.
      if (error instanceof ConflictError || error instanceof NotFoundError) continue;
      throw error;
    }
    const claimedMs = clock.now();
    void writeClaimRecord(docker, app, pool, member.memberId, claimedMs, claimedMs - startedMs).catch(() => undefined);
    return member.id;
  }
}

/**
 * After a claim has its sandbox: lists the pool again in the background if the remembered
 * listing is getting old, so that the claimers who keep coming never wait for one.
 */
export function refreshWarmAhead(docker: Engine, app: string, pool: string, warm: WarmMembers): void {
  warm.refreshAhead(app, pool, () => listWarm(docker, app, pool));
}

async function listWarm(docker: Engine, app: string, pool: string): Promise<PoolMember[]> {
  return (await listMembers(docker, app, pool)).filter(isClaimable);
}

/** A warm member that runs and that the engine finds nothing wrong with: the one kind a claim takes, or a count counts. */
export function isClaimable(member: PoolMember): boolean {
  return member.state === "warm" && member.running && !member.trouble;
}

/** When a member was claimed, and what its claimer waited, for lifetimes and the claim latency metric. */
export async function writeClaimRecord(
  docker: Engine,
  app: string,
  pool: string,
  memberId: string,
  claimedMs: number,
  latencyMs?: number,
): Promise<void> {
  await docker.records.create({
    name: claimRecordName(app, pool, memberId),
    labels: ownershipLabels(app, "claim", {
      [LABEL.pool]: pool,
      [LABEL.member]: memberId,
      [LABEL.claimedAt]: String(claimedMs),
      ...(latencyMs !== undefined ? { [LABEL.claimLatencyMs]: String(latencyMs) } : {}),
    }),
  });
}

export function claimRecordName(app: string, pool: string, memberId: string): string {
  return objectName("claim", app, `${pool}-${memberId}`);
}

/** When each claimed member was claimed, by member id, from the claim records. */
export async function claimTimes(docker: Engine): Promise<Map<string, number>> {
  const records = await docker.records.list(scopeLabels("claim"));
  return new Map(records.map((r) => [r.labels[LABEL.member] ?? "", Number(r.labels[LABEL.claimedAt] ?? 0)]));
}

/** Removes claim records whose sandbox is gone. */
export async function pruneClaimRecords(docker: Engine): Promise<void> {
  const records = await docker.records.list(scopeLabels("claim"));
  for (const record of records) {
    const app = record.labels[LABEL.app] ?? "";
    const pool = record.labels[LABEL.pool] ?? "";
    const member = record.labels[LABEL.member] ?? "";
    if (!(await docker.containers.inspect(memberName(app, pool, "c", member))))
      await docker.records.remove(record.name);
  }
}

/** The pool's record on the engine: a labelled volume holding its replicas and template. */
export function poolRecordName(app: string, pool: string): string {
  return objectName("pool", app, pool);
}

export async function poolExists(docker: Engine, app: string, pool: string): Promise<boolean> {
  return (await docker.records.inspect(poolRecordName(app, pool))) !== undefined;
}

/**
 * Writes the pool's record, which the agent refills from. Secret values are
 * left out: the agent copies them from a live member of the same template.
 */
export async function writePoolRecord(docker: Engine, params: PoolParams): Promise<void> {
  const name = poolRecordName(params.app, params.name);
  const { secretEnv, ...rest } = params.template;
  const record = { ...rest, secretKeys: Object.keys(secretEnv ?? {}).sort() };
  const labels = ownershipLabels(params.app, "pool", {
    [LABEL.pool]: params.name,
    [LABEL.replicas]: String(params.replicas),
    [LABEL.rollout]: params.rollout ?? "rolling",
    [LABEL.template]: templateHash(params.template),
    [LABEL.poolTemplate]: JSON.stringify(record),
  });
  const existing = await docker.records.inspect(name);
  // Volume labels cannot change: an outdated record is replaced.
  if (existing && JSON.stringify(existing.labels) === JSON.stringify(labels)) return;
  if (existing) await docker.records.remove(name);
  await docker.records.create({ name, labels });
}

export async function removePoolRecord(docker: Engine, app: string, pool: string): Promise<void> {
  await docker.records.remove(poolRecordName(app, pool));
}

/** The pools recorded on the engine, as the agent sees them. */
export async function recordedPools(docker: Engine): Promise<
  {
    app: string;
    name: string;
    replicas: number;
    rollout: "rolling" | "all-at-once";
    templateHash: string;
    template: PoolTemplate & { secretKeys: string[] };
  }[]
> {
  const records = await docker.records.list(scopeLabels("pool"));
  return records.map((r) => ({
    app: r.labels[LABEL.app] ?? "",
    name: r.labels[LABEL.pool] ?? "",
    replicas: Number(r.labels[LABEL.replicas] ?? 0),
    rollout: r.labels[LABEL.rollout] === "all-at-once" ? "all-at-once" : "rolling",
    templateHash: r.labels[LABEL.template] ?? "",
    template: JSON.parse(r.labels[LABEL.poolTemplate] ?? "{}") as PoolTemplate & { secretKeys: string[] },
  }));
}

/** The secret values of a live member of the template, for the agent's refills. */
export async function secretEnvFromMember(
  docker: Engine,
  members: PoolMember[],
  keys: readonly string[],
): Promise<Record<string, string> | undefined> {
  if (keys.length === 0) return {};
  for (const member of members) {
    const state = await inspectSandbox(docker, member.id);
    if (!state) continue;
    const env = state.container.env;
    if (keys.every((k) => k in env)) return Object.fromEntries(keys.map((k) => [k, env[k] ?? ""]));
  }
  return undefined;
}
