// A local user of the engine's host, not in the engine's group, after what a
// checkpoint writes and what the current engine runs as root: a checkpointed
// sandbox's memory (its secrets among it) lies on the engine's disk until it is
// restored, and CRIU, runc and the engine run as root from the machine cache.
// On the current Docker Engine the bootstrap runs beside the main one.
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connectDocker } from "../../provider/engines/docker/client.ts";
import { Sandfleet } from "../../provider/index.ts";
import { LABEL } from "../../provider/runtime/engine-state/labels.ts";
import { currentEngineHost } from "../support/current-engine.ts";
import { uniqueApp } from "../support/engine.ts";
import { runCommand } from "../support/run.ts";

const dockerHost = currentEngineHost();
const docker = connectDocker(dockerHost);
const app = uniqueApp("ckfiles");

afterAll(async () => {
  for (const c of await docker.containers.list({ [LABEL.managed]: "true", [LABEL.app]: app }))
    await docker.containers.remove(c.id);
});

/** Whether the unprivileged user `nobody` can open a file for reading. */
async function nobodyReads(path: string): Promise<boolean> {
  return (await runCommand("runuser", ["-u", "nobody", "--", "head", "-c", "1", path])).code === 0;
}

/** Every file and folder under a folder, the folder first. */
function walk(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return [path, ...readdirSync(path).flatMap((name) => walk(join(path, name)))];
}

describe("a checkpoint's files and the current engine's programs, to a local user outside the engine's group", () => {
  it("keeps a checkpointed sandbox's memory, with the secret in it, unreadable on the engine's disk", async () => {
    const secret = `sfk_${randomBytes(12).toString("hex")}`;
    const sandfleet = new Sandfleet({ dockerHost });
    await using sandbox = await sandfleet.sandboxes.create({
      app,
      image: "sandfleet/busybox",
      secretEnv: { TOKEN: secret },
    });
    expect(await sandbox.pause({ checkpoint: true })).toEqual({ mode: "checkpoint" });
    const [name] = await docker.containers.checkpoints(sandbox.id);
    const { dataRoot } = await docker.info();
    if (!name || !dataRoot) throw new Error("no checkpoint, or an engine that does not say where its data is");
    const folder = join(dataRoot, "containers", sandbox.id, "checkpoints", name);
    const pages = readdirSync(folder).filter((file) => file.startsWith("pages-"));
    // The secret is there, in the processes' memory as written out: the files are worth reading.
    expect(pages.some((file) => readFileSync(join(folder, file)).includes(secret))).toBe(true);
    for (const file of pages) expect(await nobodyReads(join(folder, file))).toBe(false);
    expect(await nobodyReads(join(folder, "descriptors.json"))).toBe(false);
    await sandbox.resume();
  });

  it("lets no one but root change CRIU, runc, containerd or dockerd, which the engine runs as root", async () => {
    const cache = process.env.SANDFLEET_CACHE ?? "/var/cache/sandfleet";
    const parts = readdirSync(cache)
      .filter((name) => /^(criu-|docker-\d)/.test(name))
      .map((name) => join(cache, name));
    expect(parts.length).toBeGreaterThanOrEqual(2);
    for (const path of [cache, ...parts.flatMap(walk)]) {
      const stat = statSync(path);
      expect({ path, owner: stat.uid, writableByOthers: (stat.mode & 0o022) !== 0 }).toEqual({
        path,
        owner: 0,
        writableByOthers: false,
      });
    }
  });
});
