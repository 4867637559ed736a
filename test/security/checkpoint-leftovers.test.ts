// Whoever reads the engine's host's disk after a checkpoint was restored and its
// sandbox removed: the checkpoint, the processes' memory with their secrets, must
// be gone with it, wherever the engine staged it on its way (Docker 29 moves a
// checkpoint through containerd, which unpacks it into a folder of its temporary
// directory). On the current Docker Engine the bootstrap runs beside the main one.
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connectDocker } from "../../provider/engines/docker/client.ts";
import { Sandfleet } from "../../provider/index.ts";
import { LABEL } from "../../provider/runtime/engine-state/labels.ts";
import { currentEngineHost } from "../support/current-engine.ts";
import { uniqueApp } from "../support/engine.ts";
import { until } from "../support/until.ts";

const dockerHost = currentEngineHost();
const docker = connectDocker(dockerHost);
const app = uniqueApp("ckleft");

afterAll(async () => {
  for (const c of await docker.containers.list({ [LABEL.managed]: "true", [LABEL.app]: app }))
    await docker.containers.remove(c.id);
});

/** The files of the engine's staging folders for checkpoints that hold `secret`. */
function stagedFilesHolding(secret: string): string[] {
  const staging = readdirSync(tmpdir())
    .filter((name) => name.startsWith("ctrd-checkpoint"))
    .map((name) => join(tmpdir(), name));
  return staging.flatMap((folder) =>
    readdirSync(folder)
      .map((file) => join(folder, file))
      .filter((file) => statSync(file).isFile() && readFileSync(file).includes(secret)),
  );
}

describe("a restored checkpoint, on the engine's host's disk", () => {
  it("leaves no copy of the sandbox's memory once restored and removed", async () => {
    const secret = `sfk_${randomBytes(12).toString("hex")}`;
    const sandfleet = new Sandfleet({ dockerHost });
    const sandbox = await sandfleet.sandboxes.create({
      app,
      image: "sandfleet/busybox",
      secretEnv: { TOKEN: secret },
    });
    expect(await sandbox.pause({ checkpoint: true })).toEqual({ mode: "checkpoint" });
    await sandbox.resume();
    expect((await sandbox.run(["echo", "back"])).stdout).toBe("back\n");
    await sandbox.remove();
    // containerd leaves the folder it unpacked the checkpoint into (/tmp/ctrd-checkpoint<n>/pages-*.img,
    // the memory with the secret); CRIU's wrapper removes the images once the restore's CRIU has ended.
    await until("no staged copy of its memory", async () => Promise.resolve(stagedFilesHolding(secret).length === 0));
    expect(stagedFilesHolding(secret)).toEqual([]);
  });
});
