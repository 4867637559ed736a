import { MAX_DURATION_MS } from "../../rules.ts";

/** One pass's reading of the engine's record of exec activity (idle.ts). */
export interface ExecActivity {
  /** When each sandbox was last active, of what the engine still holds. */
  byContainer: Map<string, number>;
  /** Whether the engine holds everything of the window asked about. */
  complete: boolean;
  /** Every event the engine dropped came before this; undefined where it cannot tell. */
  heldSinceMs: number | undefined;
}

/**
 * What an agent has seen of its sandboxes' activity over its passes. The
 * engine keeps only its newest events, of every kind, so one pass may find a
 * sandbox's last exec pushed out. A pass that follows the one before closely
 * enough (the engine still holds events from before that pass) extends an
 * unbroken record, so a sandbox with no activity in it was last active
 * before the record began; a gap starts the record again. A restarted agent
 * starts it afresh: it only ever knows less, never wrongly more.
 */
export class ActivityRecord {
  readonly #lastActiveMs = new Map<string, number>();
  /** Since when the record is unbroken; undefined: it covers the whole window. */
  #unbrokenSinceMs: number | undefined;
  #lastPassMs: number | undefined;

  /**
   * Adds one pass's reading, made at `nowMs`; `fallbackMs` is where the record
   * starts when the engine cannot say what it dropped (the agent's start).
   * Returns the reading with what earlier passes saw added.
   */
  add(reading: ExecActivity, nowMs: number, fallbackMs: number): ExecActivity {
    for (const [id, ms] of reading.byContainer) {
      this.#lastActiveMs.set(id, Math.max(this.#lastActiveMs.get(id) ?? 0, ms));
    }
    for (const [id, ms] of this.#lastActiveMs) if (ms < nowMs - MAX_DURATION_MS) this.#lastActiveMs.delete(id);
    if (reading.complete) {
      this.#unbrokenSinceMs = undefined;
    } else {
      const heldSinceMs = reading.heldSinceMs ?? fallbackMs;
      // Held since before the last pass: what that pass saw and this one together leave no gap.
      const continues = this.#lastPassMs !== undefined && heldSinceMs <= this.#lastPassMs;
      if (!continues) this.#unbrokenSinceMs = heldSinceMs;
    }
    this.#lastPassMs = nowMs;
    return {
      byContainer: new Map(this.#lastActiveMs),
      complete: this.#unbrokenSinceMs === undefined,
      heldSinceMs: this.#unbrokenSinceMs,
    };
  }
}
