// One leader among an agent's replicas: the holder of a lease that it renews.
// Followers watch the lease and take it when its holder has not renewed it
// for the lease's duration, as measured on their own clock (never by
// comparing the holder's timestamps with theirs), or at once when the holder
// gave it up. A leader that cannot renew within its renew deadline, shorter
// than the duration, stops leading before any follower may take over.

import type { LeaseStore } from "../../engines/lease.ts";

export type { LeaseRecord, LeaseStore } from "../../engines/lease.ts";

export interface LeaderElectionOptions {
  identity: string;
  store: LeaseStore;
  /** How long a lease holds after its last renewal. Default 15 s. */
  durationMs?: number;
  /** A leader that has not renewed for this long stops leading. Default 10 s (less than durationMs). */
  renewDeadlineMs?: number;
  /** How often the leader renews and a follower looks again. Default 2 s. */
  retryMs?: number;
  now?: () => number;
  /** Told each change: leading, following whom, or a lease that could not be read. */
  onChange?: (change: LeaderChange) => void;
}

export type LeaderChange =
  | {
      state: "leading";
      identity: string;
      transitions: number;
      /** The holder whose lease lapsed and was taken over (not one that gave it up). */
      previous?: string;
    }
  | { state: "following"; leader: string }
  | { state: "stopped-leading"; identity: string; reason: string }
  | { state: "error"; detail: string };

export interface Leadership {
  /** Whether this replica leads now. */
  readonly leading: boolean;
  /**
   * Runs `lead` for each term this replica leads, with a signal that aborts
   * when the term ends (the lease lost, or `signal` aborted), until `signal`
   * aborts; then gives the lease up if it holds it, so that a follower leads
   * at once.
   */
  run(signal: AbortSignal, lead: (term: AbortSignal) => Promise<void>): Promise<void>;
}

const DEFAULTS = { durationMs: 15_000, renewDeadlineMs: 10_000, retryMs: 2_000 };

export function leaderElection(options: LeaderElectionOptions): Leadership {
  const { identity, store } = options;
  const durationMs = options.durationMs ?? DEFAULTS.durationMs;
  const renewDeadlineMs = options.renewDeadlineMs ?? Math.min(DEFAULTS.renewDeadlineMs, (durationMs * 2) / 3);
  const retryMs = options.retryMs ?? Math.min(DEFAULTS.retryMs, renewDeadlineMs / 2);
  if (!(renewDeadlineMs < durationMs && retryMs < renewDeadlineMs))
    throw new RangeError("leader election needs retry < renew deadline < lease duration");
  const now = options.now ?? Date.now;
  const tell = (change: LeaderChange) => options.onChange?.(change);
  // The record last seen and when this replica first saw it: expiry is measured from there.
  let observed: { key: string; atMs: number } | undefined;
  let lastFollowed: string | undefined;
  let leading = false;
  /** The holder of a lapsed lease this replica took over, told with "leading". */
  let tookFrom: string | undefined;
  /** The lease's transitions as this replica last wrote them, told with "leading". */
  let transitions = 0;

  /** Takes or renews the lease; true when this replica holds it afterwards. */
  const acquireOrRenew = async (): Promise<boolean> => {
    const current = await store.read();
    const stamp = new Date(now()).toISOString();
    if (!current) {
      const made = await store.create({ holder: identity, durationMs, transitions: 0, renewedAt: stamp });
      if (made) observed = undefined;
      transitions = 0;
      return made;
    }
    const key = `${current.holder}|${current.renewedAt}|${current.version}`;
    if (observed?.key !== key) observed = { key, atMs: now() };
    const mine = current.holder === identity;
    const held = current.holder !== "" && now() < observed.atMs + current.durationMs;
    if (!mine && held) {
      if (lastFollowed !== current.holder) tell({ state: "following", leader: current.holder });
      lastFollowed = current.holder;
      return false;
    }
    if (!mine && current.holder !== "") tookFrom = current.holder;
    transitions = mine ? current.transitions : current.transitions + 1;
    const taken = await store.replace({ holder: identity, durationMs, transitions, renewedAt: stamp }, current.version);
    return taken;
  };

  const release = async () => {
    const current = await store.read();
    if (current?.holder !== identity) return;
    // Nobody holds it, and it would lapse in a second anyway: a follower takes it on its next look.
    await store.replace(
      { holder: "", durationMs: 1000, transitions: current.transitions, renewedAt: new Date(now()).toISOString() },
      current.version,
    );
  };

  const sleep = (ms: number, signal: AbortSignal) =>
    new Promise<void>((resolve) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
      function done() {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      }
    });

  const attempt = async (): Promise<boolean> => {
    try {
      return await acquireOrRenew();
    } catch (error) {
      tell({ state: "error", detail: `lease: ${error instanceof Error ? error.message : String(error)}` });
      return false;
    }
  };

  return {
    get leading() {
      return leading;
    },
    async run(signal, lead) {
      try {
        while (!signal.aborted) {
          if (!(await attempt())) {
            await sleep(retryMs, signal);
            continue;
          }
          const term = new AbortController();
          const stop = () => {
            term.abort();
          };
          signal.addEventListener("abort", stop, { once: true });
          leading = true;
          lastFollowed = undefined;
          // Told at once, from what this replica just wrote: no other call to the API server before it.
          tell({
            state: "leading",
            identity,
            transitions,
            ...(tookFrom ? { previous: tookFrom } : {}),
          });
          tookFrom = undefined;
          // A term's work that fails ends the term (and, once the lease is given up, the run) at once.
          let failure: { error: unknown } | undefined;
          const work = lead(term.signal).catch((error: unknown) => {
            failure = { error };
            term.abort();
          });
          let renewedMs = now();
          let reason = "asked to stop";
          const ended = () => term.signal.aborted;
          while (!ended()) {
            await sleep(retryMs, term.signal);
            if (ended()) break;
            if (await attempt()) {
              renewedMs = now();
              continue;
            }
            // Another holder (or no lease at all), or no renewal for the deadline: stop before anyone else may lead.
            const seen = await store.read().then(
              (record) => ({ holder: record?.holder }),
              () => undefined,
            );
            const taken = seen !== undefined && seen.holder !== identity;
            if (taken || now() - renewedMs >= renewDeadlineMs) {
              reason = taken
                ? `the lease is ${seen.holder ? `held by ${seen.holder}` : "gone"}`
                : "the lease could not be renewed";
              term.abort();
            }
          }
          signal.removeEventListener("abort", stop);
          await work;
          leading = false;
          if (failure) {
            tell({ state: "stopped-leading", identity, reason: "its work failed" });
            throw failure.error;
          }
          tell({ state: "stopped-leading", identity, reason });
        }
      } finally {
        await release().catch((error: unknown) => {
          tell({
            state: "error",
            detail: `give the lease up: ${error instanceof Error ? error.message : String(error)}`,
          });
        });
      }
    },
  };
}
