import { describe, expect, it } from "vitest";
import { TimeoutError } from "../../provider/errors.ts";
import { GiveUp, pollUntil, type Clock } from "../../provider/runtime/poll.ts";

function fakeClock(): Clock & { slept: number[] } {
  let now = 0;
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
  };
}

describe("pollUntil", () => {
  it("returns as soon as an attempt succeeds", async () => {
    const clock = fakeClock();
    let calls = 0;
    const value = await pollUntil(
      "thing",
      async () => {
        if (++calls < 3) throw new Error("not yet");
        return "done";
      },
      { timeoutMs: 1000, intervalMs: 100, clock },
    );
    expect(value).toBe("done");
    expect(clock.slept).toEqual([100, 100]);
  });

  it("says what was not ready, after how long, and the last error", async () => {
    const clock = fakeClock();
    let calls = 0;
    const attempt = pollUntil(
      "sandbox web (tcp port 8000)",
      async () => {
        throw new Error(`attempt ${++calls} failed`);
      },
      { timeoutMs: 500, intervalMs: 100, clock },
    );
    await expect(attempt).rejects.toBeInstanceOf(TimeoutError);
    await expect(attempt).rejects.toThrow("sandbox web (tcp port 8000) not ready after 500 ms: attempt 6 failed");
  });

  it("stops at once when an attempt gives up", async () => {
    const clock = fakeClock();
    const attempt = pollUntil(
      "sandbox",
      async () => {
        throw new GiveUp("the sandbox exited with code 1");
      },
      { timeoutMs: 60_000, intervalMs: 100, clock },
    );
    await expect(attempt).rejects.toThrow("sandbox not ready: the sandbox exited with code 1");
    expect(clock.slept).toEqual([]);
  });
});
