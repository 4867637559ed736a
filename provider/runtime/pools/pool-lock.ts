import { randomHex } from "../../digest.ts";
import type { Engine } from "../../engines/port.ts";
import { LABEL, ownershipLabels } from "../engine-state/labels.ts";
import { currentMaker, makerIsGone } from "../local/maker.ts";
import { objectName } from "../engine-state/names.ts";
import { systemClock, type Clock } from "../local/poll.ts";

/*
 * One maker at a time per pool. Makers (every `up`, every agent, on any
 * machine) list a pool's members and add what is missing; two that list at
 * once both see the same gap and fill it twice, or one rolls what the other
 * just made. A pool's lock is a record on the engine, made only if absent
 * (an atomic step on both engines), so exactly one maker holds it. It names
 * its holder, so a lock left by a killed maker is taken over: at once when
 * the holder ran on this host and is gone, else once it has expired.
 */

export interface PoolLockParams {
  app: string;
  pool: string;
  /** How long the lock holds without being released: a holder on another host that died is waited for this long. */
  ttlMs: number;
  /** Wait for a held lock (an `up` must fill the pool), or give up at once (an agent's pass: the holder fills it). */
  wait: boolean;
  clock?: Clock;
}

export function poolLockName(app: string, pool: string): string {
  return objectName("lock", app, pool);
}

/** Runs `work` holding the pool's lock; undefined without running it when the lock is held and `wait` is false. */
export async function withPoolLock<T>(
  docker: Engine,
  params: PoolLockParams,
  work: () => Promise<T>,
): Promise<{ done: T } | undefined> {
  const clock = params.clock ?? systemClock;
  const name = poolLockName(params.app, params.pool);
  const holder = `${currentMaker()}:${randomHex(4)}`;
  for (let pause = 50; ; pause = Math.min(pause * 2, 1000)) {
    const labels = ownershipLabels(params.app, "lock", {
      [LABEL.pool]: params.pool,
      [LABEL.maker]: holder,
      [LABEL.expiresAt]: String(clock.now() + params.ttlMs),
    });
    if (await docker.records.createIfAbsent({ name, labels })) break;
    const held = await docker.records.inspect(name);
    if (held && isStale(held.labels, clock.now())) {
      await docker.records.remove(name);
      continue;
    }
    if (!params.wait) return undefined;
    await clock.sleep(pause);
  }
  try {
    return { done: await work() };
  } finally {
    // Only its own: a lock taken over after this one expired belongs to another maker now.
    const held = await docker.records.inspect(name);
    if (held?.labels[LABEL.maker] === holder) await docker.records.remove(name);
  }
}

function isStale(labels: Readonly<Record<string, string>>, nowMs: number): boolean {
  const holder = labels[LABEL.maker] ?? "";
  // The holder label is `host:pid:start:nonce`; its maker part is what makerIsGone reads.
  const maker = holder.split(":").slice(0, 3).join(":");
  const expires = Number(labels[LABEL.expiresAt]);
  return makerIsGone(maker) || !Number.isFinite(expires) || expires < nowMs;
}
