// A local user of the engine's host, not in the engine's group, reading what
// the engine keeps: every container's files and environment (secrets among
// them) live in the engine's data root, and that root is a file system in a
// file. Docker keeps the mounted tree 0710; the file under it and the
// engine's log must not be a way around that.
import { statSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { connectDocker } from "../../provider/engines/docker/client.ts";
import { mustRun, runCommand } from "../support/run.ts";

/** The file behind the engine's data root, when that root is a loop-mounted file system. */
async function dataRootFile(): Promise<string | undefined> {
  const info = await connectDocker().info();
  if (!info.dataRoot) throw new Error("the engine does not say where its data root is");
  const source = (await mustRun("findmnt", ["-n", "-o", "SOURCE", "--target", info.dataRoot])).stdout.trim();
  if (!source.startsWith("/dev/loop")) return undefined;
  return (await mustRun("losetup", ["-n", "-O", "BACK-FILE", source])).stdout.trim() || undefined;
}

/** Whether the unprivileged user `nobody` can open a file for reading. */
async function nobodyReads(path: string): Promise<boolean> {
  const result = await runCommand("runuser", ["-u", "nobody", "--", "head", "-c", "1", path]);
  return result.code === 0;
}

describe("the engine's files on its host, to a local user outside the engine's group", () => {
  it("keep the file system behind the data root (every container's files and environment) unreadable", async () => {
    const file = await dataRootFile();
    if (file === undefined)
      throw new Error("sandfleet's engine keeps its data root in a loop-mounted file; this one does not");
    expect(statSync(file).mode & 0o077).toBe(0);
    expect(await nobodyReads(file)).toBe(false);
  });

  it("keep the engine's log unreadable", async () => {
    const log = "/var/log/sandfleet-dockerd.log";
    expect(statSync(log).mode & 0o077).toBe(0);
    expect(await nobodyReads(log)).toBe(false);
  });
});
