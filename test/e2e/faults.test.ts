import { describe, expect, it } from "vitest";
import { FaultDrill } from "../support/fault-drill.ts";
import { until } from "../support/until.ts";

/**
 * Fault drills on a disposable engine: the engine stopped mid-up, the engine
 * restarted under a stack. Each ends with a plain `up` that converges, and a
 * preview with no changes. (`pulumi` killed, and the state cut short: the
 * files beside this one.)
 */
describe("converging after the engine's faults, with the real pulumi CLI", () => {
  const drill = FaultDrill.perTest();

  it("an engine stopped mid-`up` fails it and preview within seconds, naming the engine; after a restart `up` converges", async () => {
    const { engine, stack } = drill.current;
    const up = stack.start(["up", "--yes", "--skip-preview"]);
    await until("containers on the engine", async () => (await drill.current.census()).total >= 5);
    const stoppedAt = Date.now();
    await engine.stopDaemon("SIGKILL");
    const result = await up.exited;
    const waitedMs = Date.now() - stoppedAt;
    expect(result.code).not.toBe(0);
    expect(waitedMs).toBeLessThan(30_000);
    const output = result.stdout + result.stderr;
    expect(output).toContain(`the Docker engine at ${engine.host} is unreachable`);
    // One message, once per failed resource: no stack trace and no doubled error names.
    expect(output).not.toMatch(/at .*\.ts:\d+:\d+/);
    expect(output).not.toMatch(/Error: [^\n]*Error: /);

    // With the engine still down, a preview fails too, instead of reporting "unchanged" from stale outputs.
    const preview = await stack.run(["preview", "--diff"], { allowFailure: true });
    expect(preview.code).not.toBe(0);
    const previewOutput = preview.stdout + preview.stderr;
    expect(previewOutput).toContain(`the Docker engine at ${engine.host} is unreachable`);
    expect(previewOutput).not.toMatch(/^\s+at .*:\d+:\d+\)?$/m);
    expect(previewOutput).not.toMatch(/Error: [^\n]*Error: /);

    await engine.startDaemon();
    const again = await stack.run(["up", "--yes", "--skip-preview"], { allowFailure: true });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    await drill.current.expectConverged();
  });

  it("after an engine restart a plain `up` brings back every sandbox and pool member", async () => {
    const { engine, stack } = drill.current;
    await stack.run(["up", "--yes", "--skip-preview"]);
    await engine.restartDaemon();
    expect((await drill.current.census()).running).toBe(0);
    const again = await stack.run(["up", "--yes", "--skip-preview"]);
    expect(again.stdout).toMatch(/stopped with exit code/);
    await drill.current.expectConverged();
  });
});
