import type { Clock } from "../../provider/runtime/poll.ts";

interface Sleeper {
  untilMs: number;
  wake: () => void;
}

/**
 * A clock that stands still until the test moves it. `sleep` resolves only
 * when `advance` passes its end, so code that waits on it waits exactly as
 * long as the test says, however slow or fast the machine.
 */
export class FakeClock implements Clock {
  #nowMs: number;
  #sleepers: Sleeper[] = [];

  constructor(startMs = Date.UTC(2030, 0, 1)) {
    this.#nowMs = startMs;
  }

  now(): number {
    return this.#nowMs;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#sleepers.push({ untilMs: this.#nowMs + Math.max(0, ms), wake: resolve });
    });
  }

  /** How many sleeps are waiting for time to pass. */
  get sleeping(): number {
    return this.#sleepers.length;
  }

  /**
   * Moves time on by `ms`, waking each sleeper at its own moment, earliest
   * first, and letting what it wakes run (and sleep again) before moving on.
   */
  async advance(ms: number): Promise<void> {
    const targetMs = this.#nowMs + ms;
    await settle();
    for (;;) {
      const due = this.#sleepers.filter((s) => s.untilMs <= targetMs);
      if (due.length === 0) break;
      const nextMs = Math.min(...due.map((s) => s.untilMs));
      this.#nowMs = Math.max(this.#nowMs, nextMs);
      const waking = this.#sleepers.filter((s) => s.untilMs === nextMs);
      this.#sleepers = this.#sleepers.filter((s) => s.untilMs !== nextMs);
      for (const sleeper of waking) sleeper.wake();
      await settle();
    }
    this.#nowMs = targetMs;
    await settle();
  }

  /** Lets everything that waits on promises only (the in-memory engine, the runtime above it) run until it waits on time. */
  async untilSleeping(count = 1): Promise<void> {
    for (let turn = 0; turn < 1000 && this.#sleepers.length < count; turn++) await settle();
    if (this.#sleepers.length < count) {
      throw new Error(
        `expected ${String(count)} sleeps waiting on the fake clock, found ${String(this.#sleepers.length)}`,
      );
    }
  }
}

/**
 * A few turns of the event loop: every promise chain that needs no timer or
 * I/O runs to its next wait (streams hand on their data in later turns).
 */
async function settle(): Promise<void> {
  for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
}
