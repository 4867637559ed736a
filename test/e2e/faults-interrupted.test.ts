import { describe, expect, it } from "vitest";
import { LABEL } from "../../provider/runtime/engine-state/labels.ts";
import { FaultDrill } from "../support/fault-drill.ts";
import { until } from "../support/until.ts";

/**
 * Fault drills on a disposable engine: `pulumi up` and `pulumi destroy`
 * SIGKILLed mid-way. Each ends with an `up` through the front door that
 * converges, and a preview with no changes.
 */
describe("converging after a killed `pulumi`, with the real pulumi CLI", () => {
  const drill = FaultDrill.perTest();

  it("a SIGKILLed `up` leaves nothing stuck: the next `sandfleet up` converges to exactly 13", async () => {
    const { stack } = drill.current;
    const up = stack.start(["up", "--yes", "--skip-preview"]);
    // Cut off while members and sandboxes are made but not yet ready.
    await until("containers on the engine", async () => (await drill.current.census()).total >= 5);
    up.killTree();
    await up.exited;
    expect((await drill.current.census()).running).toBeLessThan(13);

    // The front door: it finds the lock the killed run left and removes it, since its process is gone.
    const again = await drill.current.front("up");
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stderr).toContain("removed a stale lock");
    await drill.current.expectConverged();
  });

  it("after a SIGKILLed `destroy`, the operations it left pending are redone once and not reported again", async () => {
    const { engine, stack, app } = drill.current;
    await stack.run(["up", "--yes", "--skip-preview"]);
    const destroy = stack.start(["destroy", "--yes", "--skip-preview"]);
    await until("the destroy under way", async () => (await drill.current.census()).total < 13, 60_000);
    destroy.killTree();
    await destroy.exited;

    const first = await drill.current.front("up");
    expect(first.code, first.stdout + first.stderr).toBe(0);
    await drill.current.expectConverged();
    const second = await drill.current.front("up");
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(second.stderr).not.toContain("interrupted");
    const destroyed = await drill.current.front("destroy");
    expect(destroyed.code, destroyed.stdout + destroyed.stderr).toBe(0);
    expect(destroyed.stderr).not.toContain("interrupted");
    expect(await engine.docker.containers.list({ [LABEL.app]: app })).toEqual([]);
  });
});
