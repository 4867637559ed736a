import { randomBytes } from "node:crypto";
import { connectDocker } from "../provider/docker/client.ts";
import { poolProvider } from "../provider/resources/pool-provider.ts";
import { normalizeSandboxParams, sandboxContainerSpec } from "../provider/runtime/sandbox-params.ts";
import { Sandbox } from "../provider/runtime/sandbox.ts";
import { DISK_MIB } from "../provider/rules.ts";
import { DisposableEngine } from "../test/support/disposable-engine.ts";
import { cleanupApp } from "../test/support/engine.ts";
import { docker, medianMs, type Figure } from "./measure.ts";

const engine = connectDocker();
export const benchApp = () => `bench-${randomBytes(3).toString("hex")}`;

/** 1. Cold sandbox: create until the readiness probe passed and a first exec returned. */
export async function coldSandbox(runs: number): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const runtime of ["runc", "runsc"] as const) {
    const app = benchApp();
    const made: Sandbox[] = [];
    const rawIds: string[] = [];
    const value = await medianMs(runs, 2, async () => {
      const sandbox = await Sandbox.create({
        app,
        image: "sandfleet/busybox",
        runtime,
        readiness: { exec: ["true"], intervalMs: 10 },
      });
      await sandbox.waitUntilReady();
      await sandbox.run(["true"]);
      made.push(sandbox);
    });
    await Promise.all(made.map((s) => s.remove()));
    // The floor, timed the same way: removal happens outside the timed part.
    const baseline = await medianMs(runs, 2, async () => {
      const id = (
        await docker("run", "-d", "--network", "none", "--runtime", runtime, "sandfleet/busybox", "sleep", "infinity")
      ).trim();
      await docker("exec", id, "true");
      rawIds.push(id);
    });
    await docker("rm", "-f", ...rawIds);
    // The engine's own floor: the same container made, started and exec'd through the Engine API, nothing else.
    const floorIds: string[] = [];
    const spec = sandboxContainerSpec(normalizeSandboxParams({ app, image: "sandfleet/busybox", runtime }), "floor");
    const floor = await medianMs(runs, 2, async () => {
      const id = await engine.containers.create({ ...spec, name: `${spec.name ?? ""}-${String(floorIds.length)}` });
      await engine.containers.start(id);
      await engine.exec.run(id, { argv: ["true"] });
      floorIds.push(id);
    });
    await Promise.all(floorIds.map((id) => engine.containers.remove(id)));
    figures.push(
      {
        name: `cold sandbox (${runtime}): create, probe passed, first exec`,
        value,
        unit: "ms",
        baselineName: `docker run -d + docker exec (${runtime})`,
        baseline,
        target: 1.3,
      },
      {
        name: `cold sandbox (${runtime}), against the Engine API floor`,
        value,
        unit: "ms",
        baselineName: "create + start + exec through the Engine API",
        baseline: floor,
      },
    );
    await cleanupApp(app);
  }
  return figures;
}

/** 2. Warm claim: claim from a ready pool until the first exec returned. */
export async function warmClaim(runs: number): Promise<Figure[]> {
  const app = benchApp();
  const inputs = (
    await poolProvider.check({}, { app, name: "warm", replicas: runs + 3, template: { image: "sandfleet/busybox" } })
  ).inputs as Record<string, unknown>;
  await poolProvider.create(inputs);
  const value = await medianMs(runs, 2, async () => {
    const sandbox = await Sandbox.claim(app, "warm");
    await sandbox.run(["true"]);
  });
  const [one] = await Sandbox.list({ app });
  const baseline = await medianMs(runs, 2, async () => {
    await docker("exec", one?.id ?? "", "true");
  });
  const floor = await medianMs(runs, 2, async () => {
    await engine.exec.run(one?.id ?? "", { argv: ["true"] });
  });
  await cleanupApp(app);
  return [
    {
      name: "warm claim: claim from a ready pool, first exec",
      value,
      unit: "ms",
      baselineName: "one docker exec",
      baseline,
      target: 1.5,
    },
    {
      name: "warm claim, against the Engine API floor",
      value,
      unit: "ms",
      baselineName: "one exec through the Engine API",
      baseline: floor,
    },
  ];
}

/** 3. Exec round trip, one at a time and 100 at once. */
export async function execThroughput(runs: number): Promise<Figure[]> {
  const app = benchApp();
  const sandbox = await Sandbox.create({ app, image: "sandfleet/busybox" });
  const single = await medianMs(runs, 3, async () => {
    await sandbox.run(["true"]);
  });
  const singleBaseline = await medianMs(runs, 3, async () => {
    await docker("exec", sandbox.id, "true");
  });
  const burst = await medianMs(3, 1, async () => {
    await Promise.all(Array.from({ length: 100 }, () => sandbox.run(["true"])));
  });
  const burstBaseline = await medianMs(3, 1, async () => {
    await Promise.all(Array.from({ length: 100 }, () => docker("exec", sandbox.id, "true")));
  });
  await cleanupApp(app);
  return [
    {
      name: "exec round trip (true)",
      value: single,
      unit: "ms",
      baselineName: "docker exec",
      baseline: singleBaseline,
    },
    {
      name: "100 concurrent execs, wall time",
      value: burst,
      unit: "ms",
      baselineName: "100 concurrent docker exec",
      baseline: burstBaseline,
      target: 1.2,
      note: `${(100_000 / burst).toFixed(0)} execs/s vs ${(100_000 / burstBaseline).toFixed(0)} execs/s`,
    },
  ];
}

/** 6. Scaling: making a pool of N, and claim latency from it. */
export async function scaling(sizes: number[]): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const size of sizes) {
    const app = benchApp();
    const inputs = (
      await poolProvider.check(
        {},
        {
          app,
          name: "scale",
          replicas: size,
          template: { image: "sandfleet/busybox", memoryMiB: 32, readiness: { exec: ["true"], intervalMs: 20 } },
        },
      )
    ).inputs as Record<string, unknown>;
    const started = performance.now();
    await poolProvider.create(inputs);
    const createMs = performance.now() - started;
    const claims = Math.min(10, size);
    const claimMs = await medianMs(claims - 2, 2, async () => {
      await Sandbox.claim(app, "scale");
    });
    figures.push(
      {
        name: `pool of ${String(size)}: cold create, per member`,
        value: createMs / size,
        unit: "ms",
        note: `${(createMs / 1000).toFixed(1)} s in all`,
      },
      { name: `pool of ${String(size)}: claim latency`, value: claimMs, unit: "ms" },
    );
    await cleanupApp(app);
  }
  return figures;
}

/**
 * 6. What the storage costs: a cold container (run, then a first exec) on the
 * engine's btrfs storage with the default disk bound, against the same on
 * overlay2 over ext4 (a disposable engine started for the comparison), which
 * cannot bound a disk on this kernel.
 */
export async function storageCost(runs: number): Promise<Figure[]> {
  const overlay = await DisposableEngine.start();
  try {
    const cold = async (host: string[], extra: string[]) => {
      const ids: string[] = [];
      const value = await medianMs(runs, 2, async () => {
        const id = (
          await docker(...host, "run", "-d", "--network", "none", ...extra, "sandfleet/busybox", "sleep", "1d")
        ).trim();
        await docker(...host, "exec", id, "true");
        ids.push(id);
      });
      await docker(...host, "rm", "-f", ...ids);
      return value;
    };
    const btrfs = await cold([], ["--storage-opt", `size=${String(DISK_MIB.default)}M`]);
    const overlay2 = await cold(["-H", overlay.host], []);
    return [
      {
        name: "cold container on btrfs with the default 10 GiB disk bound",
        value: btrfs,
        unit: "ms",
        baselineName: "the same on overlay2 over ext4, unbounded",
        baseline: overlay2,
      },
    ];
  } finally {
    await overlay.dispose();
  }
}
