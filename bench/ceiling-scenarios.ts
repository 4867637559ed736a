// How many idle sandboxes this machine holds before something gives, what gives and how it fails.
//
// Method: a real pool of `size` idle members (as many as the machine affords: it never takes
// memory below FLOOR_GIB free) is measured for what each member costs the host, as the engine
// keeps it — memory (its cgroup, without page cache, and its containerd-shim's proportional
// share, PSS, since shims share their binary's pages), tasks (its processes and threads, and its
// shim's: each takes a pid), the engine's open files, and the engine's CPU at idle (Docker runs
// each member's health check, an exec, every interval) — against the same reading before the pool
// existed. Each of the host's bounds divided by its per-member cost projects a count; the
// smallest is the ceiling, and its bound is what gives. Going further for real would take the
// whole machine's pids or CPU from everyone on it, so the run stops at `size`.
import { readdirSync, readFileSync } from "node:fs";
import { freemem, totalmem } from "node:os";
import { poolProvider } from "../provider/resources/pool-provider.ts";
import { cleanupApp } from "../test/support/engine.ts";
import { docker, pidsMatching, type Figure } from "./measure.ts";
import { benchApp, idlePoolInputs } from "./scenarios.ts";

/** Memory the run leaves free on the machine, at least. */
const FLOOR_GIB = 4;
/** Seconds over which the engine's idle CPU is read: a whole health-check interval (30 s) and a bit. */
const CPU_WINDOW_S = 33;
const MIB = 1024 * 1024;
/** What a member is assumed to take before it is measured, generously: to size the run. */
const PER_MEMBER_GUESS = { memoryMiB: 8, tasks: 40 };

interface HostReading {
  tasks: number;
  engineFds: number;
  engineCpuCores: number;
  availableMiB: number;
}

export async function idleCeiling(size: number): Promise<Figure[]> {
  // Within what the machine affords: memory above FLOOR_GIB free, and half the pids left now
  // (others on the machine need theirs; a member takes ~35).
  const affordable = Math.min(
    Math.floor((availableMiB() - FLOOR_GIB * 1024) / PER_MEMBER_GUESS.memoryMiB),
    Math.floor((pidMax() - hostTasks()) / 2 / PER_MEMBER_GUESS.tasks),
  );
  const members = Math.max(1, Math.min(size, affordable));
  const before = await hostReading();
  const app = benchApp();
  try {
    const inputs = await idlePoolInputs(app, "idle", members);
    await poolProvider.create(inputs);
    const ids = (await docker("ps", "-q", "--no-trunc", "--filter", `label=sandfleet.app=${app}`)).trim().split("\n");
    const after = await hostReading();
    const healthExecsPerS = await healthExecRate(app);
    const cost = {
      memoryMiB: average(ids.map(cgroupMiB)) + average(ids.map(shimPssMiB)),
      tasks: average(ids.map(memberTasks)),
      engineFds: (after.engineFds - before.engineFds) / ids.length,
      cpuCores: (after.engineCpuCores - before.engineCpuCores) / ids.length,
    };
    const bounds = [
      {
        what: "memory",
        room: before.availableMiB - FLOOR_GIB * 1024,
        each: cost.memoryMiB,
        fails: `the kernel's OOM killer ends processes, sandboxes' or anyone's, once about ${String(Math.round(before.availableMiB / 1024))} GiB are taken`,
      },
      {
        what: "kernel pids",
        room: pidMax() - before.tasks,
        each: cost.tasks,
        fails: `fork and thread creation fail with EAGAIN host-wide once kernel.pid_max (${String(pidMax())}) tasks exist: new sandboxes fail to start, and so does anything else on the host`,
      },
      {
        what: "the engine's open files",
        room: engineFdLimit() - before.engineFds,
        each: cost.engineFds,
        fails: `dockerd reaches its open-files limit (${String(engineFdLimit())}): its API calls fail with "too many open files"`,
      },
      {
        what: "CPU for health checks",
        room: cores() - before.engineCpuCores,
        each: cost.cpuCores,
        fails: `the engine's health-check execs (one per member every 30 s) take every core: checks time out, members turn unhealthy and are replaced, and every engine call slows`,
      },
    ].map((b) => ({ ...b, holds: b.each > 0 ? Math.floor(b.room / b.each) : Number.POSITIVE_INFINITY }));
    const first = bounds.reduce((a, b) => (b.holds < a.holds ? b : a));
    return [
      {
        name: "idle sandboxes this machine holds before something gives (projected)",
        value: first.holds,
        unit: "sandboxes",
        note: `${first.what} gives first: ${first.fails}; measured for real up to ${String(ids.length)} idle members (the rest would take the machine from everyone on it)`,
      },
      ...bounds.map((b) => ({
        name: `idle sandboxes within the bound of ${b.what} (projected)`,
        value: b.holds,
        unit: "sandboxes",
        note: `${b.each.toFixed(b.what === "CPU for health checks" ? 4 : 1)} ${unitOf(b.what)} each, ${b.room.toFixed(b.what === "CPU for health checks" ? 2 : 0)} free before the pool`,
      })),
      {
        name: "engine health-check execs per second, per 100 idle members",
        value: (healthExecsPerS / ids.length) * 100,
        unit: "execs/s",
      },
    ];
  } finally {
    await cleanupApp(app);
  }
}

function unitOf(bound: string): string {
  return bound === "memory"
    ? "MiB"
    : bound === "kernel pids"
      ? "tasks"
      : bound === "CPU for health checks"
        ? "cores"
        : "fds";
}

function average(values: number[]): number {
  const known = values.filter((v) => Number.isFinite(v));
  return known.reduce((a, b) => a + b, 0) / Math.max(1, known.length);
}

function availableMiB(): number {
  const available = /^MemAvailable:\s+(\d+)/m.exec(readFileSync("/proc/meminfo", "utf8"))?.[1];
  return available ? Number(available) / 1024 : (freemem() || totalmem()) / MIB;
}

function pidMax(): number {
  return Number(readFileSync("/proc/sys/kernel/pid_max", "utf8"));
}

function cores(): number {
  return readFileSync("/proc/cpuinfo", "utf8").match(/^processor\s/gm)?.length ?? 1;
}

/** Memory a container holds in its cgroup, without page cache (v1 and v2). */
function cgroupMiB(id: string): number {
  for (const root of [`/sys/fs/cgroup/memory/docker/${id}`, `/sys/fs/cgroup/system.slice/docker-${id}.scope`]) {
    try {
      const v1 = root.includes("/memory/");
      const stat = readFileSync(`${root}/memory.stat`, "utf8");
      const field = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, "m").exec(stat)?.[1] ?? 0);
      const usage = Number(readFileSync(`${root}/${v1 ? "memory.usage_in_bytes" : "memory.current"}`, "utf8"));
      return (usage - field(v1 ? "total_cache" : "file")) / MIB;
    } catch {
      continue;
    }
  }
  return Number.NaN;
}

/** The tasks (processes and threads) a member keeps: its container's, and its shim's threads. */
function memberTasks(id: string): number {
  const [shim] = pidsMatching(new RegExp(`containerd-shim\\S* .*-id ${id}`));
  for (const file of [
    `/sys/fs/cgroup/pids/docker/${id}/pids.current`,
    `/sys/fs/cgroup/system.slice/docker-${id}.scope/pids.current`,
  ]) {
    try {
      return (
        Number(readFileSync(file, "utf8")) + (shim === undefined ? 0 : readdirSync(`/proc/${String(shim)}/task`).length)
      );
    } catch {
      continue;
    }
  }
  return Number.NaN;
}

/** The proportional share of memory (PSS) of the container's shim: its pages shared with other shims count once in all. */
function shimPssMiB(id: string): number {
  const [pid] = pidsMatching(new RegExp(`containerd-shim\\S* .*-id ${id}`));
  if (pid === undefined) return Number.NaN;
  try {
    const pss = /^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${String(pid)}/smaps_rollup`, "utf8"))?.[1];
    return Number(pss ?? Number.NaN) / 1024;
  } catch {
    return Number.NaN;
  }
}

function enginePid(): number | undefined {
  return pidsMatching(/^\S*dockerd(\s|$)/)[0];
}

function engineFdLimit(): number {
  const pid = enginePid();
  const limits = pid === undefined ? "" : readFileSync(`/proc/${String(pid)}/limits`, "utf8");
  return Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1] ?? Number.NaN);
}

/** Every task (process or thread) on the host, the engine's open files and its processes' CPU, in cores, over CPU_WINDOW_S. */
async function hostReading(): Promise<HostReading> {
  const ticks = () =>
    pidsMatching(/^\S*(dockerd|containerd|containerd-shim\S*|runc)(\s|$)/).reduce((sum, pid) => {
      try {
        const fields =
          readFileSync(`/proc/${String(pid)}/stat`, "utf8")
            .split(") ")[1]
            ?.split(" ") ?? [];
        // utime, stime, and the same of its children it waited for (each health check's runc).
        return sum + [11, 12, 13, 14].reduce((s, i) => s + Number(fields[i] ?? 0), 0);
      } catch {
        return sum;
      }
    }, 0);
  const started = ticks();
  await new Promise((resolve) => setTimeout(resolve, CPU_WINDOW_S * 1000));
  const used = ticks() - started;
  const pid = enginePid();
  return {
    tasks: hostTasks(),
    engineFds: pid === undefined ? 0 : readdirSync(`/proc/${String(pid)}/fd`).length,
    engineCpuCores: used / 100 / CPU_WINDOW_S,
    availableMiB: availableMiB(),
  };
}

/** Health-check execs the engine starts in the app's containers, per second, over a whole interval. */
async function healthExecRate(app: string): Promise<number> {
  const since = Math.floor(Date.now() / 1000);
  await new Promise((resolve) => setTimeout(resolve, CPU_WINDOW_S * 1000));
  const until = since + CPU_WINDOW_S;
  const events = await docker(
    "events",
    "--since",
    String(since),
    "--until",
    String(until),
    "--filter",
    `label=sandfleet.app=${app}`,
    "--filter",
    "event=exec_start",
    "--format",
    "{{.Action}}",
  );
  return events.split("\n").filter((line) => line.startsWith("exec_start")).length / CPU_WINDOW_S;
}

/** Every task (process or thread) on the host: each holds a pid. */
function hostTasks(): number {
  return Number(/^\S+ \S+ \S+ \d+\/(\d+)/.exec(readFileSync("/proc/loadavg", "utf8"))?.[1] ?? Number.NaN);
}
