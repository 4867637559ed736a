import type { PoolMember } from "../engine-state/pool-members.ts";
import type { Clock } from "../local/poll.ts";

/*
 * The warm members a client last listed, per pool, so that a claim's
 * critical path is the one atomic step (a rename) and not a listing of the
 * engine each time. Nothing here is trusted: a listed member may have been
 * claimed by another client or removed since, which its rename tells at once
 * (the claim then tries the next), and a claimed member that turns out dead
 * is dropped by the claimer. A listing older than FRESH_MS is not used.
 */
const FRESH_MS = 5_000;

export class WarmMembers {
  readonly #byPool = new Map<string, { members: PoolMember[]; listedMs: number }>();
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** The members listed for the pool, unless the listing is stale or used up. */
  take(app: string, pool: string): PoolMember[] | undefined {
    const entry = this.#byPool.get(key(app, pool));
    if (!entry || entry.members.length === 0 || this.#clock.now() - entry.listedMs > FRESH_MS) return undefined;
    return [...entry.members];
  }

  remember(app: string, pool: string, members: readonly PoolMember[]): void {
    this.#byPool.set(key(app, pool), { members: [...members], listedMs: this.#clock.now() });
  }

  /** A member claimed (by anyone) or gone: no claimer of this client tries it again. */
  drop(app: string, pool: string, memberId: string): void {
    const entry = this.#byPool.get(key(app, pool));
    if (entry) entry.members = entry.members.filter((m) => m.memberId !== memberId);
  }
}

function key(app: string, pool: string): string {
  return `${app}\0${pool}`;
}
