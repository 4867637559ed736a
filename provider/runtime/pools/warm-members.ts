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
 * the claimer. A listing older than FRESH_MS is not used; one past half that
 * age is listed again in the background, so that claimers who keep coming
 * never wait for a listing (at 500 members a listing costs the engine and
 * this process far more than a claim's rename).
 */
const FRESH_MS = 5_000;
const REFRESH_MS = FRESH_MS / 2;

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
  /** Per pool, while a listing runs in the background: the members handed out since it began. */
  readonly #ahead = new Map<string, Set<string>>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** The next listed member no claimer of this client was given, unless the listing is stale. */
  next(app: string, pool: string): PoolMember | undefined {
    const entry = this.#byPool.get(key(app, pool));
    if (!entry || entry.pending || this.#clock.now() - entry.startedMs > FRESH_MS) return undefined;
    const member = entry.members.shift();
    if (member) this.#ahead.get(key(app, pool))?.add(member.memberId);
    return member;
  }

  /**
   * Lists the pool again in the background once the listing in hand is past
   * half its freshness, one listing at a time. The new members replace the
   * old (less those handed out meanwhile) and the listing counts as made
   * when it began; it keeps the old one's generation, so that no claimer
   * concludes the pool is exhausted from a listing that began before it did.
   * A failure leaves the old listing to age out.
   */
  refreshAhead(app: string, pool: string, list: () => Promise<PoolMember[]>): void {
    const at = key(app, pool);
    const entry = this.#byPool.get(at);
    if (!entry || entry.pending || this.#ahead.has(at) || this.#clock.now() - entry.startedMs <= REFRESH_MS) return;
    const handedOut = new Set<string>();
    const startedMs = this.#clock.now();
    this.#ahead.set(at, handedOut);
    void list()
      .then((members) => {
        // A claimer that listed meanwhile holds a listing at least as new.
        if (this.#byPool.get(at) !== entry) return;
        const fresh = members.filter((member) => !handedOut.has(member.memberId));
        this.#byPool.set(at, { ...entry, members: shuffled(fresh), startedMs });
      })
      .catch(() => undefined)
      .finally(() => this.#ahead.delete(at));
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
