import { execFileSync } from "node:child_process";
import { statSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LABEL } from "../../provider/runtime/engine-state/labels.ts";
import { FaultDrill } from "../support/fault-drill.ts";

/**
 * A fault drill on a disposable engine: the stack's state and its backup cut
 * short, as a killed write would leave them. The recovery the front door
 * prints, run as printed, converges.
 */
describe("converging after a damaged state, with the real pulumi CLI", () => {
  const drill = FaultDrill.perTest();

  it("with the state and its backup both cut short, the printed recovery, run as printed, converges and orphans nothing", async () => {
    const { engine, stack, app } = drill.current;
    await stack.run(["up", "--yes", "--skip-preview"]);
    const state = join(stack.backendDir, ".pulumi", "stacks", "sandfleet", `${stack.stack}.json`);
    // A second update leaves a .bak; then both are cut short, as a killed write would leave them.
    await stack.run(["up", "--yes", "--skip-preview"]);
    for (const file of [state, `${state}.bak`]) truncateSync(file, Math.floor(statSync(file).size / 2));

    const refused = await drill.current.front("up");
    expect(refused.code).not.toBe(0);
    const recovery = refused.stderr
      .split("\n")
      .filter((line) => line.startsWith("sandfleet:   ") || line.startsWith("  "))
      .map((line) => line.replace(/^sandfleet: {3}|^ {2}/, ""));
    expect(recovery, refused.stderr).toHaveLength(1);
    execFileSync("sh", ["-c", recovery[0] as string]);

    const refreshed = await drill.current.front("refresh");
    expect(refreshed.code, refreshed.stdout + refreshed.stderr).toBe(0);
    const again = await drill.current.front("up");
    expect(again.code, again.stdout + again.stderr).toBe(0);
    await drill.current.expectConverged();

    const destroyed = await drill.current.front("destroy");
    expect(destroyed.code, destroyed.stdout + destroyed.stderr).toBe(0);
    expect(await engine.docker.containers.list({ [LABEL.app]: app })).toEqual([]);
    expect(await engine.docker.networks.list({ [LABEL.app]: app })).toEqual([]);
    expect(await engine.docker.volumes.list({ [LABEL.app]: app })).toEqual([]);
  });
});
