import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandfleet } from "../../provider/client/sandfleet.ts";
import { poolProvider } from "../../provider/resources/pool-provider.ts";
import type { SandboxEvent } from "../../provider/runtime/observability/events.ts";
import { cliPath } from "../support/cli.ts";
import { cleanupApp, docker, uniqueApp } from "../support/engine.ts";
import { until } from "../support/until.ts";

describe("sandbox lifecycle events", () => {
  const app = uniqueApp("events");
  const sandfleet = new Sandfleet({ docker });
  const seen: SandboxEvent[] = [];
  const controller = new AbortController();
  let watching: Promise<void>;

  beforeAll(async () => {
    const stream = sandfleet.events({ app, signal: controller.signal });
    watching = (async () => {
      for await (const event of stream) seen.push(event);
    })();
    // The engine's stream is open once a first event of the app arrives: make one.
    const probe = await sandfleet.sandboxes.create({ app, image: "sandfleet/busybox", name: "probe" });
    await until("the watch to see its first event", () => Promise.resolve(seen.some((e) => e.sandbox === "probe")));
    await probe.remove();
  });
  afterAll(async () => {
    controller.abort();
    await watching;
    await cleanupApp(app);
  });

  const of = (name: string) => seen.filter((e) => e.sandbox === name);
  const kinds = (name: string) => of(name).map((e) => e.kind);
  const ended = (name: string) => until(`${name} to end`, () => Promise.resolve(kinds(name).includes("ended")), 30_000);

  it("tells created, ready, paused, resumed and ended by terminate", async () => {
    const sandbox = await sandfleet.sandboxes.create({ app, image: "sandfleet/busybox", name: "life" });
    await sandbox.pause();
    await sandbox.resume();
    await sandbox.terminate();
    await ended("life");
    expect(kinds("life")).toEqual(["created", "ready", "paused", "resumed", "ended"]);
    expect(of("life").at(-1)).toMatchObject({ app, id: sandbox.id, reason: "terminated", exitCode: 137 });
  });

  it.each([
    { name: "exits", params: { command: ["sh", "-c", "exit 3"] }, reason: "exit", exitCode: 3 },
    { name: "times-out", params: { timeoutMs: 1000 }, reason: "timeout", exitCode: 124 },
    { name: "idles", params: { idleTimeoutMs: 1000 }, reason: "idle", exitCode: 124 },
    {
      name: "ooms",
      params: {
        image: "sandfleet/python",
        memoryMiB: 32,
        command: ["python3", "-c", "b = bytearray(256 * 1024 * 1024)"],
      },
      reason: "oom",
      exitCode: 137,
    },
  ])("tells why $name ended: $reason", async ({ name, params, reason, exitCode }) => {
    await sandfleet.sandboxes.create({ app, image: "sandfleet/busybox", name, ...params });
    await ended(name);
    expect(of(name).at(-1)).toMatchObject({ kind: "ended", reason, exitCode });
  });

  it("tells a pool member ready when warm, and claimed", async () => {
    const checked = await poolProvider.check(
      {},
      { app, name: "warm", replicas: 1, template: { image: "sandfleet/busybox", memoryMiB: 32 } },
    );
    await poolProvider.create(checked.inputs as Record<string, unknown>);
    const claimed = await sandfleet.sandboxes.claim(app, "warm");
    await until("the claim event", () => Promise.resolve(seen.some((e) => e.kind === "claimed")));
    const member = seen.filter((e) => e.id === claimed.id);
    expect(member.map((e) => e.kind)).toEqual(["created", "ready", "claimed"]);
    expect(member.every((e) => e.pool === "warm")).toBe(true);
  });

  it("streams from the CLI as JSON lines", async () => {
    const child = spawn(process.execPath, [cliPath, "events", "--app", app, "--json"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    try {
      // Made until the CLI's stream is open and shows a whole sandbox's creation: it opens at a moment
      // that cannot be seen from outside, maybe between one sandbox's events.
      const lines = () =>
        out
          .split("\n")
          .filter(Boolean)
          .map((line) => JSON.parse(line) as SandboxEvent);
      await until(
        "the CLI to print a created event",
        async () => {
          await (await sandfleet.sandboxes.create({ app, image: "sandfleet/busybox" })).remove();
          return lines().some((e) => e.kind === "created");
        },
        30_000,
      );
      const created = lines().find((e) => e.kind === "created");
      expect(created).toMatchObject({ app, kind: "created" });
      expect(Date.parse(created?.time ?? "")).toBeGreaterThan(Date.now() - 60_000);
    } finally {
      child.kill("SIGTERM");
    }
  });
});
