import type { Clock } from "../../provider/runtime/local/poll.ts";

/**
 * A few turns of the event loop: every promise chain that needs no timer or
 * I/O runs to its next wait (streams hand on their data in later turns).
 */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * Time that moves only when a test says so. `sleep` resolves only when
 * `advance` passes its end (or its signal aborts): `advance` wakes each
 * sleeper at its own moment, earliest first, and lets what it starts run
 * (and sleep again) before moving on, so code that waits on it waits exactly
 * as long as the test says, however slow or fast the machine.
 */
export class FakeClock implements Clock {
  #now: number;
  readonly #sleepers = new Set<{ at: number; wake: () => void }>();

  constructor(startMs = Date.parse("2026-01-01T00:00:00Z")) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) {
        resolve();
        return;
      }
      const sleeper = {
        at: this.#now + Math.max(0, ms),
        wake: () => {
          this.#sleepers.delete(sleeper);
          signal?.removeEventListener("abort", sleeper.wake);
          resolve();
        },
      };
      this.#sleepers.add(sleeper);
      signal?.addEventListener("abort", sleeper.wake, { once: true });
    });
  }

  /** How many sleeps are waiting for time to pass. */
  get sleeping(): number {
    return this.#sleepers.size;
  }

  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    await settle();
    for (;;) {
      const due = [...this.#sleepers].filter((s) => s.at <= end);
      if (due.length === 0) break;
      const at = Math.min(...due.map((s) => s.at));
      this.#now = Math.max(this.#now, at);
      for (const sleeper of due.filter((s) => s.at === at)) sleeper.wake();
      await settle();
    }
    this.#now = end;
    await settle();
  }

  /** Lets everything that waits on promises only (the in-memory engine, the runtime above it) run until it waits on time. */
  async untilSleeping(count = 1): Promise<void> {
    for (let turn = 0; turn < 1000 && this.#sleepers.size < count; turn++) await settle();
    if (this.#sleepers.size < count) {
      throw new Error(
        `expected ${String(count)} sleeps waiting on the fake clock, found ${String(this.#sleepers.size)}`,
      );
    }
  }
}
