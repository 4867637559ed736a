import { EngineUnavailableError, SandboxLostError, TimeoutError } from "../../errors.ts";

/** Time as the poller (and the webhook queue) sees it; tests hand in a fake one. */
export interface Clock {
  now(): number;
  /** Resolves after `ms`, or at once when `signal` aborts (a wait cut short resolves, never rejects). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) {
        resolve();
        return;
      }
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done, { once: true });
    }),
};

export interface PollParams {
  timeoutMs: number;
  intervalMs: number;
  clock?: Clock;
}

/** Thrown by a check to stop polling at once: waiting longer cannot help. */
export class GiveUp extends Error {
  override readonly name: string = "GiveUp";
}

/**
 * Calls `attempt` until it resolves, every `intervalMs`, for at most
 * `timeoutMs`. Fails with the one message shape for timeouts:
 * "<what> not ready after <N> ms: <last error>". An engine that cannot be
 * reached ends the wait at once: no probe can pass without it, and an
 * operator must hear about it now, not after the whole timeout.
 */
export async function pollUntil<T>(what: string, attempt: () => Promise<T>, params: PollParams): Promise<T> {
  const clock = params.clock ?? systemClock;
  const started = clock.now();
  let lastError: string;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (error instanceof GiveUp) throw new TimeoutError(`${what} not ready: ${error.message}`);
      // Neither an engine out of reach nor a sandbox the engine lost comes back by waiting.
      if (error instanceof EngineUnavailableError || error instanceof SandboxLostError) throw error;
      lastError = error instanceof Error ? error.message : String(error);
    }
    const elapsed = clock.now() - started;
    if (elapsed + params.intervalMs > params.timeoutMs) {
      throw new TimeoutError(`${what} not ready after ${params.timeoutMs} ms: ${lastError}`);
    }
    await clock.sleep(params.intervalMs);
  }
}
