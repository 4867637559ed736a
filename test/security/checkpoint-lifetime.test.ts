// A process inside a sandbox, and the operator ending it, around a pause: a
// paused or checkpointed sandbox must keep its lifetime, and ending it must end
// it. On the current Docker Engine the bootstrap runs beside the main one (the
// one with CRIU), where `pause({ checkpoint: true })` writes a real checkpoint.
import { afterAll, describe, expect, it } from "vitest";
import { connectDocker } from "../../provider/engines/docker/client.ts";
import { Sandfleet } from "../../provider/index.ts";
import type { Sandbox } from "../../provider/client/sandbox.ts";
import { LABEL } from "../../provider/runtime/engine-state/labels.ts";
import { currentEngineHost } from "../support/current-engine.ts";
import { uniqueApp } from "../support/engine.ts";
import { until } from "../support/until.ts";

const dockerHost = currentEngineHost();
const docker = connectDocker(dockerHost);
const sandfleet = new Sandfleet({ dockerHost });
const app = uniqueApp("cklife");

afterAll(async () => {
  for (const c of await docker.containers.list({ [LABEL.managed]: "true", [LABEL.app]: app }))
    await docker.containers.remove(c.id);
  for (const v of await docker.volumes.list({ [LABEL.managed]: "true", [LABEL.app]: app }))
    await docker.volumes.remove(v.name);
});

/** What an exec prints, or "refused" when the sandbox will not run it. */
async function outcomeOf(sandbox: Sandbox): Promise<string> {
  return sandbox.run(["echo", "alive"]).then(
    (result) => result.stdout.trim(),
    () => "refused",
  );
}

/** Waits, on the clock, until a sandbox created at `createdAt` is past its lifetime. */
async function pastLifetime(createdAt: number, timeoutMs: number): Promise<void> {
  await until("the sandbox's lifetime has passed", async () => Date.now() > createdAt + timeoutMs + 2_000);
}

describe("a paused or checkpointed sandbox and its end", () => {
  it("terminate ends a checkpointed sandbox: no exec runs in it afterwards and its checkpoint is gone", async () => {
    const sandbox = await sandfleet.sandboxes.create({ app, image: "sandfleet/busybox", timeoutMs: 10 * 60_000 });
    expect(await sandbox.pause({ checkpoint: true })).toEqual({ mode: "checkpoint" });
    // Seen: terminate throws "has already ended (exit code 137)" and leaves the checkpoint,
    // and the next exec restores the sandbox from it and runs.
    const terminated = await sandbox.terminate().then(
      () => "ended",
      (error: unknown) => String(error),
    );
    const exec = await outcomeOf(sandbox);
    const checkpoints = await docker.containers.checkpoints(sandbox.id).catch(() => []);
    expect({ terminated, exec, checkpoints }).toEqual({ terminated: "ended", exec: "refused", checkpoints: [] });
  });

  it("a checkpointed sandbox restored past its lifetime runs nothing", async () => {
    const timeoutMs = 20_000;
    const createdAt = Date.now();
    const sandbox = await sandfleet.sandboxes.create({ app, image: "sandfleet/busybox", timeoutMs });
    expect(await sandbox.pause({ checkpoint: true })).toEqual({ mode: "checkpoint" });
    await pastLifetime(createdAt, timeoutMs);
    // Seen: the exec restores the sandbox from its checkpoint and prints "alive".
    expect(await outcomeOf(sandbox)).toBe("refused");
  });

  it("a sandbox frozen past its lifetime runs nothing when thawed", async () => {
    const timeoutMs = 20_000;
    const createdAt = Date.now();
    const sandbox = await sandfleet.sandboxes.create({ app, image: "sandfleet/busybox", timeoutMs });
    expect(await sandbox.pause()).toEqual({ mode: "freezer" });
    await pastLifetime(createdAt, timeoutMs);
    // Seen: the exec thaws the sandbox and prints "alive" before the supervisor ends it.
    expect(await outcomeOf(sandbox)).toBe("refused");
  });
});

describe("a neighbouring sandbox sharing a volume with a checkpointed one", () => {
  it("cannot leave it stopped with its checkpoint, beyond terminate's reach, by changing a file it holds open", async () => {
    const volume = await sandfleet.volumes.fromName(app, "shared", { createIfMissing: true });
    const victim = await sandfleet.sandboxes.create({
      app,
      image: "sandfleet/busybox",
      timeoutMs: 10 * 60_000,
      volumes: [volume.mount("/data")],
      command: ["sh", "-c", "echo hello > /data/f; exec 3</data/f; while true; do sleep 1; done"],
    });
    const neighbour = await sandfleet.sandboxes.create({
      app,
      image: "sandfleet/busybox",
      timeoutMs: 10 * 60_000,
      volumes: [volume.mount("/data")],
    });
    await until("the victim holds its file open", async () => {
      const held = await victim.run(["sh", "-c", "ls -l /proc/*/fd 2>/dev/null | grep -c /data/f || true"]);
      return Number(held.stdout.trim()) > 0;
    });
    expect(await victim.pause({ checkpoint: true })).toEqual({ mode: "checkpoint" });
    await neighbour.run(["sh", "-c", "echo longer-than-before >> /data/f"]);
    // Seen: the restore fails (CRIU: the file's size changed), terminate throws "has already
    // ended (exit code 128)", and the checkpoint, the victim's memory, stays on the engine.
    await victim.resume().catch(() => undefined);
    const terminated = await victim.terminate().then(
      () => "ended",
      (error: unknown) => String(error),
    );
    const checkpoints = await docker.containers.checkpoints(victim.id).catch(() => []);
    expect({ terminated, checkpoints }).toEqual({ terminated: "ended", checkpoints: [] });
  });
});
