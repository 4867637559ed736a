import { describe, expect, it } from "vitest";
import type { Engine } from "../../provider/engines/port.ts";
import type { EngineEvent } from "../../provider/engines/port.ts";
import { lastExecActivity } from "../../provider/runtime/agent/idle.ts";

function withEvents(events: EngineEvent[]): Engine {
  return { events: { containerEvents: () => Promise.resolve(events) } } as unknown as Engine;
}

const event = (timeMs: number, action: string, execId: string, detail = ""): EngineEvent => ({
  timeMs,
  action,
  detail,
  containerId: "c1",
  attributes: {},
  execId,
});

describe("exec activity", () => {
  it("does not count the engine's own health checks", async () => {
    const docker = withEvents([
      event(1000, "exec_start", "user", "python3 job.py"),
      event(2000, "exec_die", "user"),
      event(5000, "exec_start", "health", "/sbin/docker-init --version"),
      event(5001, "exec_die", "health"),
    ]);
    const activity = await lastExecActivity(docker, 0, 10_000, new Map([["c1", "/sbin/docker-init --version"]]));
    expect(activity.byContainer.get("c1")).toBe(2000);
  });
});
