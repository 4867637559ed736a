import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { connectDocker } from "../provider/engines/docker/client.ts";
import { poolProvider } from "../provider/resources/pool-provider.ts";
import { normalizeSandboxParams, sandboxContainerSpec } from "../provider/runtime/sandboxes/sandbox-params.ts";
import { Sandbox } from "../provider/client/sandbox.ts";
import { DISK_MIB } from "../provider/rules.ts";
import { DisposableEngine } from "../test/support/disposable-engine.ts";
import { cleanupApp } from "../test/support/engine.ts";
import { Agent } from "../provider/runtime/agent/agent.ts";
import { poolReconcilers } from "../provider/runtime/agent/pool-agent.ts";
import { docker, median, medianMs, pidsMatching, rssMiB, run, type Figure } from "./measure.ts";

const engine = connectDocker();
export const benchApp = () => `bench-${randomBytes(3).toString("hex")}`;
const cliBin = new URL("../dist/bin/sandfleet.cjs", import.meta.url).pathname;

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
    // The same without the supervisor: what placing it as PID 1 adds to a cold start.
    const plain: Sandbox[] = [];
    const withoutSupervisor = await medianMs(runs, 2, async () => {
      const sandbox = await Sandbox.create({
        app,
        image: "sandfleet/busybox",
        runtime,
        supervisor: false,
        readiness: { exec: ["true"], intervalMs: 10 },
      });
      await sandbox.waitUntilReady();
      await sandbox.run(["true"]);
      plain.push(sandbox);
    });
    await Promise.all(plain.map((s) => s.remove()));
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
        name: `cold sandbox (${runtime}), with the supervisor`,
        value,
        unit: "ms",
        baselineName: "the same sandbox without it",
        baseline: withoutSupervisor,
        target: 1.1,
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
      note: "the claim is one rename; the first exec opens the sandbox's channel from beside it, with no engine exec",
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

/** 3. Exec round trip, one at a time and 100 at once, through the supervisor and through the engine. */
export async function execThroughput(runs: number): Promise<Figure[]> {
  const app = benchApp();
  const make = async (supervisor: boolean) => {
    const made = await Promise.all(
      Array.from({ length: 10 }, () => Sandbox.create({ app, image: "sandfleet/busybox", supervisor })),
    );
    const [first, ...rest] = made;
    if (!first) throw new Error("no sandbox was made");
    return [first, rest] as const;
  };
  const [supervised, nine] = await make(true);
  const [engineOnly, engineNine] = await make(false);
  const single = await medianMs(runs, 3, async () => {
    await supervised.run(["true"]);
  });
  const singleEngine = await medianMs(runs, 3, async () => {
    await engineOnly.run(["true"]);
  });
  const singleDocker = await medianMs(runs, 3, async () => {
    await docker("exec", supervised.id, "true");
  });
  // Sandbox i % n takes the i-th of the 100.
  const burst = (sandboxes: readonly Sandbox[]) =>
    medianMs(3, 1, async () => {
      await Promise.all(
        Array.from({ length: 100 }, (_, i) => sandboxes.filter((_s, n) => n === i % sandboxes.length)).flatMap(
          (picked) => picked.map((sandbox) => sandbox.run(["true"])),
        ),
      );
    });
  const oneSandbox = await burst([supervised]);
  const oneSandboxEngine = await burst([engineOnly]);
  const tenSandboxes = await burst([supervised, ...nine]);
  const tenSandboxesEngine = await burst([engineOnly, ...engineNine]);
  const rate = (ms: number) => `${(100_000 / ms).toFixed(0)} execs/s`;
  const supervisorPid = (await supervised.state()).container.pid;
  const supervisorRss = rssMiB(supervisorPid);
  const supervisorPrivate = rssMiB(supervisorPid, "RssAnon");
  // The relay of an open connection: on the engine's host beside the sandbox (a client as root),
  // or in the sandbox through an engine exec.
  const relayRss = Math.max(0, ...pidsMatching(/sandfleet-supervisor\S* connect/).map((pid) => rssMiB(pid)));
  await cleanupApp(app);
  return [
    {
      name: "exec round trip (true), through the supervisor",
      value: single,
      unit: "ms",
      baselineName: "docker exec",
      baseline: singleDocker,
      note: "target: at most 5 ms",
    },
    {
      name: "exec round trip (true), through the engine's exec",
      value: singleEngine,
      unit: "ms",
      baselineName: "docker exec",
      baseline: singleDocker,
    },
    {
      name: "100 concurrent execs on one sandbox, wall time",
      value: oneSandbox,
      unit: "ms",
      baselineName: "the same through the engine's exec",
      baseline: oneSandboxEngine,
      target: 0.1,
      note: `${rate(oneSandbox)} vs ${rate(oneSandboxEngine)}`,
    },
    {
      name: "100 concurrent execs across 10 sandboxes, wall time",
      value: tenSandboxes,
      unit: "ms",
      baselineName: "the same through the engine's exec",
      baseline: tenSandboxesEngine,
      target: 0.1,
      note: `${rate(tenSandboxes)} vs ${rate(tenSandboxesEngine)}`,
    },
    {
      name: "supervisor resident memory, per sandbox, after 400 execs",
      value: supervisorRss,
      unit: "MiB",
      note:
        `target: at most 5 MiB; ${supervisorPrivate.toFixed(1)} MiB of it its own, the rest the binary's pages, ` +
        `shared by every sandbox; an open connection adds a relay of ${relayRss.toFixed(1)} MiB`,
    },
  ];
}

/** A pool of small busybox members, checked as `pulumi up` checks it: its provider's inputs. */
export async function idlePoolInputs(app: string, name: string, replicas: number): Promise<Record<string, unknown>> {
  const template = { image: "sandfleet/busybox", memoryMiB: 32, readiness: { exec: ["true"], intervalMs: 20 } };
  return (await poolProvider.check({}, { app, name, replicas, template })).inputs as Record<string, unknown>;
}

/** 6. Scaling: making a pool of N, and claim latency from it. */
export async function scaling(sizes: number[]): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const size of sizes) {
    const app = benchApp();
    const inputs = await idlePoolInputs(app, "scale", size);
    const started = performance.now();
    await poolProvider.create(inputs);
    const createMs = performance.now() - started;
    const claims = Math.min(10, size);
    // Each claim alone: the one before has finished what it does after returning (its record, its
    // sandbox's channel and lifetime), which its first exec waits for, outside the time.
    const claimTimes: number[] = [];
    for (let i = 0; i < claims; i++) {
      const started = performance.now();
      const claimed = await Sandbox.claim(app, "scale");
      if (i >= 2) claimTimes.push(performance.now() - started);
      await claimed.run(["true"]);
    }
    const claimMs = median(claimTimes);
    // The claim's one atomic step, alone: a rename of a member through the Engine API.
    const [member] = await Sandbox.list({ app });
    let renames = 0;
    const renameMs = await medianMs(claims - 2, 2, async () => {
      await engine.containers.rename(member?.id ?? "", `${app}-renamed-${String(renames++)}`);
    });
    // What an operator meets at this size: listing it from the CLI, and one agent pass over it.
    const listed = await medianMs(5, 1, async () => {
      await run(process.execPath, [cliBin, "ls", "--app", app], { maxBuffer: 64 * 1024 * 1024 });
    });
    const dockerPs = await medianMs(5, 1, async () => {
      await docker("ps", "-a", "--filter", `label=sandfleet.app=${app}`);
    });
    const agent = new Agent({ docker: engine, app, reconcilers: poolReconcilers(app) });
    const passMs = await medianMs(5, 1, async () => {
      await agent.reconcileOnce();
    });
    const idle = await idleMemoryMiB(app);
    figures.push(
      {
        name: `pool of ${String(size)}: \`sandfleet ls --app\``,
        value: listed,
        unit: "ms",
        baselineName: "`docker ps -a` with the same filter",
        baseline: dockerPs,
        target: 1.5,
      },
      { name: `pool of ${String(size)}: one agent pass`, value: passMs, unit: "ms" },
      {
        name: `pool of ${String(size)}: memory per idle member`,
        value: idle.engine,
        unit: "MiB",
        note: `the container's cgroup; plus ${idle.shim.toFixed(1)} MiB of containerd-shim each`,
      },
      {
        name: `pool of ${String(size)}: cold create, per member`,
        value: createMs / size,
        unit: "ms",
        note: `${(createMs / 1000).toFixed(1)} s in all`,
      },
      {
        name: `pool of ${String(size)}: claim latency`,
        value: claimMs,
        unit: "ms",
        baselineName: "one rename of a container through the Engine API",
        baseline: renameMs,
        note: "a claim is that rename (the engine writes the container's record to disk) and an inspect; claims back to back also wait on the last one's bookkeeping",
      },
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

/**
 * Memory an idle member holds, as the engine counts it (its memory cgroup,
 * less the page cache, as `docker stats` shows it), averaged over the app's
 * running containers; and the containerd-shim beside each.
 */
async function idleMemoryMiB(app: string): Promise<{ engine: number; shim: number }> {
  const ids = (await docker("ps", "-q", "--no-trunc", "--filter", `label=sandfleet.app=${app}`)).trim().split("\n");
  const held = ids.map((id) => {
    for (const root of [`/sys/fs/cgroup/memory/docker/${id}`, `/sys/fs/cgroup/system.slice/docker-${id}.scope`]) {
      try {
        const stat = readFileSync(`${root}/memory.stat`, "utf8");
        const field = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, "m").exec(stat)?.[1] ?? 0);
        const usage = Number(
          readFileSync(`${root}/${root.includes("/memory/") ? "memory.usage_in_bytes" : "memory.current"}`, "utf8"),
        );
        return (usage - field(root.includes("/memory/") ? "total_cache" : "file")) / 1024 / 1024;
      } catch {
        continue;
      }
    }
    return Number.NaN;
  });
  const known = held.filter((m) => Number.isFinite(m));
  const shims = pidsMatching(/containerd-shim/);
  return {
    engine: known.reduce((a, b) => a + b, 0) / Math.max(1, known.length),
    shim: shims.reduce((sum, pid) => sum + rssMiB(pid), 0) / Math.max(1, shims.length),
  };
}
