import type { PoolMember } from "../engine-state/pool-members.ts";
import type { Clock } from "../local/poll.ts";

/*
 * The warm members a client last listed, per pool, so that a claim's
 * critical path is the one atomic step (a rename) and not a listing of the
 * engine each time. Each listed member is handed to one claimer of this
 * client only, so the client's claimers never race each other for one; the
 * listing is shuffled, so that two clients (two processes) start at
 * different members and seldom race either. Claimers that find nothing left
 * share one listing afresh rather than each making its own.
 *
 * Nothing here is trusted: a listed member may have been claimed by another
 * client or removed since, which its rename tells at once (the claim then
 * takes the next), and a claimed member that turns out dead is dropped by
 * the claimer. A listing older than FRESH_MS is not used.
 */
const FRESH_MS = 5_000;

interface Listing {
  /** Members not yet handed to a claimer, in the order they are handed out. */
  members: PoolMember[];
  /** When the listing was asked for. */
  startedMs: number;
  /** Counts listings of this client: a later one has a higher number. */
  generation: number;
  /** How many claimable members it found. */
  found: number;
  /** Set while the engine is being asked. */
  pending?: Promise<number>;
}

export class WarmMembers {
  readonly #byPool = new Map<string, Listing>();
  readonly #clock: Clock;
  #generations = 0;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** The next listed member no claimer of this client was given, unless the listing is stale. */
  next(app: string, pool: string): PoolMember | undefined {
    const entry = this.#byPool.get(key(app, pool));
    if (!entry || entry.pending || this.#clock.now() - entry.startedMs > FRESH_MS) return undefined;
    return entry.members.shift();
  }

  /** The listing a claimer starting now may not conclude from: the last one finished (0: none). */
  finished(app: string, pool: string): number {
    const entry = this.#byPool.get(key(app, pool));
    return entry && !entry.pending ? entry.generation : entry ? entry.generation - 1 : 0;
  }

  /**
   * A listing later than `after` (what `finished` said when the claimer
   * began): the one under way or in hand when there is one, else a new one.
   * Resolves with how many claimable members it found (all of which may
   * have gone to other claimers since).
   */
  async refresh(app: string, pool: string, after: number, list: () => Promise<PoolMember[]>): Promise<number> {
    const at = key(app, pool);
    const entry = this.#byPool.get(at);
    if (entry && entry.generation > after) return entry.pending ?? entry.found;
    const listing: Listing = {
      members: [],
      startedMs: this.#clock.now(),
      generation: ++this.#generations,
      found: 0,
    };
    listing.pending = list().then(
      (members) => {
        listing.members = shuffled(members);
        listing.found = members.length;
        delete listing.pending;
        return listing.found;
      },
      (error: unknown) => {
        // A failed listing is not kept: the next claimer asks again.
        if (this.#byPool.get(at) === listing) this.#byPool.delete(at);
        throw error;
      },
    );
    this.#byPool.set(at, listing);
    return listing.pending;
  }

  /** Takes `members` as a listing made now. */
  remember(app: string, pool: string, members: readonly PoolMember[]): void {
    this.#byPool.set(key(app, pool), {
      members: shuffled(members),
      startedMs: this.#clock.now(),
      generation: ++this.#generations,
      found: members.length,
    });
  }
}

function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

function key(app: string, pool: string): string {
  return `${app}\0${pool}`;
}
