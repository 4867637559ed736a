// The CLI as a user or an agent's shell loop calls it, against the commands it stands beside.
import { randomBytes } from "node:crypto";
import { Sandfleet } from "../provider/index.ts";
import { cleanupApp } from "../test/support/engine.ts";
import { docker, medianMs, run, type Figure } from "./measure.ts";

const bin = new URL("../dist/bin/sandfleet.cjs", import.meta.url).pathname;
const sandfleetCli = (...args: string[]) => run(process.execPath, [bin, ...args], { maxBuffer: 64 * 1024 * 1024 });

export async function cliSpeed(runs: number): Promise<Figure[]> {
  const help = await medianMs(runs, 3, async () => {
    await sandfleetCli("--help");
  });
  const node = await medianMs(runs, 3, async () => {
    await run(process.execPath, ["-e", ""]);
  });

  const app = `bench-cli-${randomBytes(3).toString("hex")}`;
  const sandfleet = new Sandfleet();
  const sandboxes = [];
  // 100 sandboxes, made ten at a time, for the listing.
  for (let batch = 0; batch < 10; batch++) {
    sandboxes.push(
      ...(await Promise.all(
        Array.from({ length: 10 }, () => sandfleet.sandboxes.create({ app, image: "sandfleet/busybox" })),
      )),
    );
  }
  const [one] = sandboxes;
  const id = one?.id ?? "";
  const exec = await medianMs(runs, 3, async () => {
    await sandfleetCli("exec", id, "--", "true");
  });
  const dockerExec = await medianMs(runs, 3, async () => {
    await docker("exec", id, "true");
  });
  const ls = await medianMs(runs, 3, async () => {
    await sandfleetCli("ls", "--app", app);
  });
  const dockerPs = await medianMs(runs, 3, async () => {
    await docker("ps", "--filter", `label=sandfleet.app=${app}`);
  });
  await cleanupApp(app);
  return [
    {
      name: "`sandfleet --help`",
      value: help,
      unit: "ms",
      baselineName: "`node -e ''`",
      baseline: node,
      target: 3,
    },
    {
      name: "`sandfleet exec SANDBOX -- true`",
      value: exec,
      unit: "ms",
      baselineName: "`docker exec SANDBOX true`",
      baseline: dockerExec,
      target: 1.5,
    },
    {
      name: "`sandfleet ls` of 100 sandboxes",
      value: ls,
      unit: "ms",
      baselineName: "`docker ps` with the same filter",
      baseline: dockerPs,
      target: 1.5,
    },
  ];
}
