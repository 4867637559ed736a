import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { afterAll, describe, expect, it } from "vitest";
import { Sandbox } from "../../provider/client/sandbox.ts";
import { ensureImage } from "../../provider/runtime/images/image-build.ts";
import { cleanupApp, docker, uniqueApp } from "../support/engine.ts";
import { until } from "../support/until.ts";

// A disk bound that lasts through many containers, and a build killed mid-way: what the engine
// keeps behind after many sandboxes and builds came and went.

describe("a disk bound that lasts", () => {
  const app = uniqueApp("diskchurn");
  afterAll(() => cleanupApp(app));

  /** Bytes a sandbox managed to write into one file before its bound stopped it. */
  async function writtenPastBound(sandbox: Sandbox): Promise<number> {
    const fill = await sandbox.run(["sh", "-c", "dd if=/dev/zero of=/fill bs=1M count=200 2>&1; stat -c %s /fill"]);
    expect(fill.stdout).toMatch(/Disk quota exceeded|No space left on device/);
    return Number(fill.stdout.trim().split("\n").at(-1));
  }

  it("counts only what a sandbox writes: an image larger than the bound starts and is stopped at it", async () => {
    // sandfleet/python is about 160 MB, more than the 64 MiB bound.
    await using sandbox = await Sandbox.create({ app, image: "sandfleet/python", diskMiB: 64 });
    const written = await writtenPastBound(sandbox);
    expect(written).toBeGreaterThan(48 * 1024 * 1024);
    expect(written).toBeLessThanOrEqual(64 * 1024 * 1024);
  });

  it("still holds after 200 bounded containers came and went", async () => {
    for (let batch = 0; batch < 20; batch++) {
      const churn = `${app}-c${String(batch)}`;
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          const sandbox = await Sandbox.create({ app: churn, image: "sandfleet/busybox", diskMiB: 16 });
          await sandbox.run(["sh", "-c", "dd if=/dev/zero of=/f bs=1M count=4 2>/dev/null"], { check: true });
        }),
      );
      await cleanupApp(churn);
    }
    await using sandbox = await Sandbox.create({ app, image: "sandfleet/busybox", diskMiB: 64 });
    expect(await writtenPastBound(sandbox)).toBeLessThanOrEqual(64 * 1024 * 1024);
  }, 600_000);
});

describe("an image build killed mid-way", () => {
  const app = uniqueApp("killedbuild");
  afterAll(() => cleanupApp(app));

  it("leaves a build context that the next build sweeps", async () => {
    const buildScript = `
      import { connectDocker } from ${JSON.stringify(new URL("../../provider/engines/docker/client.ts", import.meta.url).pathname)};
      import { ensureImage } from ${JSON.stringify(new URL("../../provider/runtime/images/image-build.ts", import.meta.url).pathname)};
      await ensureImage(connectDocker(), { app: ${JSON.stringify(app)}, name: "slow", base: "sandfleet/busybox",
        steps: [{ run: "sleep 300" }] });`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", buildScript], { stdio: "ignore" });
    const mine = () => readdirSync(tmpdir()).filter((e) => e.startsWith(`sandfleet-build-${String(child.pid)}.`));
    await until("the build under way", async () => mine().length > 0);
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    expect(mine()).toHaveLength(1);
    await ensureImage(docker, { app, name: "quick", base: "sandfleet/busybox", steps: [{ run: "true" }] });
    expect(mine()).toEqual([]);
  });
});
