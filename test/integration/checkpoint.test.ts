// pause({ checkpoint: true }) on every engine it runs on: the main engine (Docker 20.10, which cannot
// checkpoint) in the integration project, the current one (Docker 29 with CRIU) in current-engine.
import { afterAll, describe, expect, it } from "vitest";
import { Sandbox } from "../../provider/client/sandbox.ts";
import { sandfleet } from "../support/cli.ts";
import { cleanupApp, docker, uniqueApp } from "../support/engine.ts";

describe.each([
  { path: "the supervisor", supervisor: true },
  { path: "the engine's exec", supervisor: false },
])("a checkpoint, execs through $path", ({ supervisor }) => {
  const app = uniqueApp("checkpoint");
  afterAll(() => cleanupApp(app));

  it("asked for a checkpoint, makes one where the engine can, else says why before asking and uses the freezer", async () => {
    await using sandbox = await Sandbox.create({ app, image: "sandfleet/busybox", supervisor });
    await sandbox.run(["sh", "-c", "echo kept > /tmp/kept"]);
    const { checkpoint } = (await docker.info()).capabilities;
    const result = await sandbox.pause({ checkpoint: true });
    if (checkpoint.supported) {
      // The current engine (Docker 29, experimental, with CRIU): on disk, stopped.
      expect(result).toEqual({ mode: "checkpoint" });
      expect((await docker.containers.inspect(sandbox.id))?.status).toBe("exited");
      // The CLI restores it and checkpoints it again: no connection of this process is open into it.
      expect((await sandfleet(["resume", sandbox.id])).code).toBe(0);
      expect((await docker.containers.inspect(sandbox.id))?.status).toBe("running");
      const cli = await sandfleet(["pause", "--checkpoint", sandbox.id]);
      expect(cli.stdout).toMatch(/checkpointed to disk/);
      expect((await docker.containers.inspect(sandbox.id))?.status).toBe("exited");
      // The next exec restores it, its files and processes as they were.
      expect((await sandbox.run(["cat", "/tmp/kept"])).stdout).toBe("kept\n");
      expect((await sandbox.state()).status).toBe("running");
      return;
    }
    // The main engine (Docker 20.10 without experimental features): never asked.
    expect(result).toEqual({
      mode: "freezer",
      checkpointError: `no checkpoint: ${checkpoint.why}; paused with the freezer instead`,
    });
    expect((await sandbox.state()).status).toBe("paused");
    expect((await sandbox.run(["cat", "/tmp/kept"])).stdout).toBe("kept\n");
    expect((await sandbox.state()).status).toBe("running");
    const cli = await sandfleet(["pause", "--checkpoint", sandbox.id]);
    expect(cli.code).toBe(0);
    expect(cli.stderr).toContain(checkpoint.why);
  });
});
