import type { PoolMember } from "./pool-members.ts";
import type { Clock } from "./poll.ts";

/*
 * The warm members a client last listed, per pool, so that a claim's
 * critical path is the one atomic step (a rename) and not a listing of the
 * engine each time. Nothing here is trusted: a listed member may have been
 * claimed by another client or removed since, which its rename tells at once
 * (the claim then tries the next), and a claimed member that turns out dead
 * is dropped by the claimer. A listing older than FRESH_MS is not used; one
 * past half that age is listed again in the background, so that claimers
 * who keep coming never wait for a listing (at 500 members, a listing costs
 * the engine and this process far more than a claim's rename).
 */
const FRESH_MS = 5_000;
const REFRESH_MS = FRESH_MS / 2;

export class WarmMembers {
  readonly #byPool = new Map<string, { members: PoolMember[]; listedMs: number }>();
  /** Listings in flight in the background, and the members dropped meanwhile, which the listing may still show warm. */
  readonly #refreshing = new Map<string, Set<string>>();
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
    this.#refreshing.get(key(app, pool))?.add(memberId);
  }

  /**
   * Lists the pool again in the background once its listing is past half its
   * freshness, one listing at a time; a failure leaves the old listing to age out.
   */
  refreshAhead(app: string, pool: string, list: () => Promise<PoolMember[]>): void {
    const at = key(app, pool);
    const entry = this.#byPool.get(at);
    if (!entry || this.#refreshing.has(at) || this.#clock.now() - entry.listedMs <= REFRESH_MS) return;
    const dropped = new Set<string>();
    const startedMs = this.#clock.now();
    this.#refreshing.set(at, dropped);
    void list()
      .then((members) => {
        const current = this.#byPool.get(at);
        if (current && current.listedMs >= startedMs) return; // listed on a claim's path meanwhile
        this.#byPool.set(at, { members: members.filter((m) => !dropped.has(m.memberId)), listedMs: startedMs });
      })
      .catch(() => undefined)
      .finally(() => this.#refreshing.delete(at));
  }
}

function key(app: string, pool: string): string {
  return `${app}\0${pool}`;
}
