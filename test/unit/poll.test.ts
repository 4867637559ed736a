import { describe, expect, it } from "vitest";
import type { Engine } from "../../provider/engines/port.ts";
import { SandboxLostError, TimeoutError } from "../../provider/errors.ts";
import { GiveUp, pollUntil, type Clock } from "../../provider/runtime/local/poll.ts";
import { execProbe, waitForProbe } from "../../provider/runtime/engine-state/readiness.ts";

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

describe("a sandbox the engine lost", () => {
  it("ends a wait at once: it never comes back", async () => {
    const clock = fakeClock();
    let calls = 0;
    const lost = new SandboxLostError("pod sf-1 cannot start: node-lost: pod sf-1 on node b", "node-lost");
    await expect(
      pollUntil(
        "sandbox web",
        async () => {
          calls++;
          throw lost;
        },
        { timeoutMs: 1000, intervalMs: 100, clock },
      ),
    ).rejects.toBe(lost);
    expect(calls).toBe(1);
  });

  it("fails a readiness wait with the engine's reason, which a pool refill makes another member for", async () => {
    const container = {
      running: false,
      exitCode: 137,
      trouble: {
        reason: "node-lost",
        detail: "pod sf-1 on node b: the node is lost",
        ended: true,
        sinceMs: 0,
        node: "b",
      },
    };
    const engine = { containers: { inspect: async () => container } } as unknown as Engine;
    const waiting = waitForProbe(
      engine,
      "sf-1",
      "sandbox web",
      execProbe(["true"]),
      async () => ({ exitCode: 0, stdout: "", stderr: "" }),
      {
        intervalMs: 100,
        timeoutMs: 1000,
        clock: fakeClock(),
      },
    );
    await expect(waiting).rejects.toThrow(SandboxLostError);
    await expect(waiting).rejects.toMatchObject({ reason: "node-lost" });
  });
});
