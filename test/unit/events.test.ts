import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import type { Engine } from "../../provider/engines/port.ts";
import type { EngineEvent } from "../../provider/engines/port.ts";
import { SandboxEventReader } from "../../provider/runtime/observability/events.ts";

const labels = {
  "sandfleet.managed": "true",
  "sandfleet.app": "demo",
  "sandfleet.kind": "sandbox",
  "sandfleet.name": "web",
};

function engineEvent(action: string, attributes: Record<string, string> = {}, detail = ""): EngineEvent {
  return {
    timeMs: 1_700_000_000_000,
    action,
    detail,
    containerId: "c1",
    execId: undefined,
    attributes: { ...labels, name: "sandfleet-sb-demo-web", ...attributes },
  };
}

const noEngine = {} as Engine;

describe("sandbox events from engine events", () => {
  it("a sandbox with a probe is ready at its first healthy check, not at its start", async () => {
    const reader = new SandboxEventReader(noEngine);
    const probed = { "sandfleet.readiness": '{"exec":["true"]}' };
    expect(await reader.read(engineEvent("start", probed))).toBeUndefined();
    expect(await reader.read(engineEvent("health_status", probed, "unhealthy"))).toBeUndefined();
    expect(await reader.read(engineEvent("health_status", probed, "healthy"))).toMatchObject({
      kind: "ready",
      app: "demo",
      sandbox: "web",
      time: "2023-11-14T22:13:20.000Z",
    });
  });

  it("a sandbox is ready once: not again at the supervisor's health check, nor when a probe flaps back", async () => {
    const reader = new SandboxEventReader(noEngine);
    expect(await reader.read(engineEvent("start"))).toMatchObject({ kind: "ready" });
    // Without a probe, the engine's health check asks the supervisor; its first answer is no news.
    expect(await reader.read(engineEvent("health_status", {}, "healthy"))).toBeUndefined();
    const probed = { "sandfleet.readiness": '{"exec":["true"]}' };
    const flapping = new SandboxEventReader(noEngine);
    expect(await flapping.read(engineEvent("health_status", probed, "healthy"))).toMatchObject({ kind: "ready" });
    expect(await flapping.read(engineEvent("health_status", probed, "unhealthy"))).toBeUndefined();
    expect(await flapping.read(engineEvent("health_status", probed, "healthy"))).toBeUndefined();
  });

  it("an end recorded in the name is a timeout or idle end reported as 124, whatever the kill", async () => {
    const reader = new SandboxEventReader(noEngine);
    await reader.read(engineEvent("kill", { signal: "9" }));
    expect(
      await reader.read(engineEvent("die", { name: "sandfleet-sb-demo-web.ended-idle", exitCode: "137" })),
    ).toMatchObject({ kind: "ended", reason: "idle", exitCode: 124 });
  });

  it("a kill makes the next end terminated, and only that one", async () => {
    const reader = new SandboxEventReader(noEngine);
    await reader.read(engineEvent("kill", { signal: "9" }));
    expect(await reader.read(engineEvent("die", { exitCode: "137" }))).toMatchObject({
      reason: "terminated",
      exitCode: 137,
    });
    await reader.read(engineEvent("start"));
    expect(await reader.read(engineEvent("die", { exitCode: "0" }))).toMatchObject({ reason: "exit", exitCode: 0 });
  });

  it("a SIGKILL end the engine logged before its kill or OOM is told by the container's own record", async () => {
    const withRecord = (oomKilled: boolean) =>
      new SandboxEventReader({
        containers: { inspect: () => Promise.resolve({ oomKilled }) },
      } as unknown as Engine);
    expect(await withRecord(false).read(engineEvent("die", { exitCode: "137" }))).toMatchObject({
      reason: "terminated",
    });
    expect(await withRecord(true).read(engineEvent("die", { exitCode: "137" }))).toMatchObject({ reason: "oom" });
  });

  it("a terminate long after an exec ran out of memory is terminated, not oom", async () => {
    const reader = new SandboxEventReader({
      containers: { inspect: () => Promise.resolve({ oomKilled: true }) },
    } as unknown as Engine);
    await reader.read({ ...engineEvent("oom"), timeMs: 1_700_000_000_000 - 60_000 });
    await reader.read(engineEvent("kill", { signal: "9" }));
    expect(await reader.read(engineEvent("die", { exitCode: "137" }))).toMatchObject({ reason: "terminated" });
    // And when the engine logs the kill after the end, the polluted record is not believed either.
    const late = new SandboxEventReader({
      containers: { inspect: () => Promise.resolve({ oomKilled: true }) },
    } as unknown as Engine);
    await late.read({ ...engineEvent("oom"), timeMs: 1_700_000_000_000 - 60_000 });
    expect(await late.read(engineEvent("die", { exitCode: "137" }))).toMatchObject({ reason: "terminated" });
  });

  it("a terminate right after an exec ran out of memory is terminated, not oom, whenever the engine logs its kill", async () => {
    const reader = new SandboxEventReader(noEngine);
    await reader.read({ ...engineEvent("oom"), timeMs: 1_700_000_000_000 - 500 });
    await reader.read(engineEvent("kill", { signal: "9" }));
    expect(await reader.read(engineEvent("die", { exitCode: "137" }))).toMatchObject({ reason: "terminated" });
    // The kill logged after the end is found in the engine's events.
    const late = new SandboxEventReader({
      events: { containerEvents: () => Promise.resolve([engineEvent("kill", { signal: "9" })]) },
      containers: { inspect: () => Promise.resolve({ oomKilled: true }) },
    } as unknown as Engine);
    await late.read({ ...engineEvent("oom"), timeMs: 1_700_000_000_000 - 500 });
    expect(await late.read(engineEvent("die", { exitCode: "137" }))).toMatchObject({ reason: "terminated" });
  });

  describe("a supervised sandbox's end, told by the supervisor's last words", () => {
    const supervised = { "sandfleet.supervisor": "v1" };
    /** An engine whose log of the container ends with `log`, and that logged no kill. */
    const withLog = (log: string) =>
      ({
        events: { containerEvents: () => Promise.resolve([]) },
        containers: {
          logs: () => Promise.resolve({ stdout: Readable.from([]), stderr: Readable.from([Buffer.from(log)]) }),
          inspect: () => Promise.resolve({ oomKilled: true }),
        },
      }) as unknown as Engine;
    const endOf = async (log: string, exitCode: string) => {
      const reader = new SandboxEventReader(withLog(log));
      // Another process of the sandbox ran out of memory a moment before.
      await reader.read({ ...engineEvent("oom", supervised), timeMs: 1_700_000_000_000 - 500 });
      return (await reader.read(engineEvent("die", { ...supervised, exitCode })))?.reason;
    };

    it("is oom only when the kernel killed its command for memory", async () => {
      expect(await endOf("sandfleet: sandbox ended: its command was killed for memory (oom)\n", "137")).toBe("oom");
      // Its command killed by another process's kill -9, while another ran out of memory.
      expect(await endOf("sandfleet: sandbox ended: its command exited with 137\n", "137")).toBe("exit");
    });

    it("believes only a last line that agrees with the exit code", async () => {
      // Written by the sandbox before the engine killed the supervisor, which then said nothing.
      const forged = "sandfleet: sandbox ended: its command exited with 0\nsomething else\n";
      expect(await endOf(forged, "137")).toBe("oom");
      expect(await endOf("sandfleet: sandbox ended: its command was killed for memory (oom)\n", "0")).toBe("exit");
      expect(await endOf("sandfleet: sandbox ended by its timeout\n", "124")).toBe("timeout");
    });
  });

  it("an OOM before the end makes it oom", async () => {
    const reader = new SandboxEventReader(noEngine);
    await reader.read(engineEvent("oom"));
    expect(await reader.read(engineEvent("die", { exitCode: "137" }))).toMatchObject({ reason: "oom" });
  });

  it("ignores what is not a sandbox's", async () => {
    const reader = new SandboxEventReader(noEngine);
    expect(await reader.read(engineEvent("create", { "sandfleet.kind": "supervisor" }))).toBeUndefined();
  });
});
