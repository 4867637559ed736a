import { describe, expect, it } from "vitest";
import type { ContainerInfo, ContainerSummary, Engine, EngineEvent, EngineInfo } from "../../provider/engines/port.ts";
import { memberName } from "../../provider/runtime/engine-state/pool-members.ts";
import { DashboardFeed } from "../../provider/serve/dashboard-feed.ts";
import { foreignRequest, hostAllowed } from "../../provider/serve/dashboard-guard.ts";
import { deadlineOf, describeEngine, type DashboardSandbox } from "../../provider/serve/dashboard-model.ts";
import { grouped, matches, sorted } from "../../provider/serve/dashboard-ui/fleet-view.ts";
import { UsageHistory } from "../../provider/serve/usage-history.ts";
import { MEMORY_CAPABILITIES } from "../support/memory-capabilities.ts";
import { until } from "../support/until.ts";

const info = (kind: EngineInfo["kind"]): EngineInfo => ({
  kind,
  storageDriver: kind === "docker" ? "btrfs" : "",
  backingFilesystem: "",
  cpus: 4,
  memoryBytes: 8 * 1024 ** 3,
  architecture: "x86_64",
  os: "linux",
  apiVersion: kind === "docker" ? "1.41" : "v1.31.2",
  capabilities: MEMORY_CAPABILITIES,
});

describe("the dashboard's engine header", () => {
  it("names a Kubernetes engine as such, with what its port answered", () => {
    const shown = describeEngine("kubernetes://kind-sandfleet/sandboxes", info("kubernetes"));
    expect(shown.kind).toBe("Kubernetes");
    expect(shown.where).toBe("kubernetes://kind-sandfleet/sandboxes");
    expect(shown.facts).toEqual(["v1.31.2", "4 CPUs", "8.0 GiB", "linux/x86_64"]);
  });
  it("names Docker with its API version and storage", () => {
    const shown = describeEngine("unix:///var/run/docker.sock", info("docker"));
    expect(shown.kind).toBe("Docker");
    expect(shown.facts.slice(0, 2)).toEqual(["API 1.41", "btrfs"]);
  });
  it("knows the kind from the address before the engine answered", () => {
    expect(describeEngine("kubernetes://ctx/ns", undefined)).toEqual({
      kind: "Kubernetes",
      where: "kubernetes://ctx/ns",
      facts: [],
    });
  });
});

const summary = (over: Partial<ContainerSummary> & { labels?: Record<string, string> }): ContainerSummary => ({
  id: "c1",
  name: "sandfleet-a-web",
  status: "running",
  createdMs: 1_000,
  ports: {},
  ...over,
  labels: { "sandfleet.app": "a", "sandfleet.name": "web", ...over.labels },
});

describe("a sandbox's deadline as the dashboard shows it", () => {
  it("is a deadline set on it, else its start and timeout; a warm member has none, a claimed one counts from its claim", () => {
    const timed = summary({ labels: { "sandfleet.timeout-ms": "60000" } });
    expect(deadlineOf(timed, 5_000, undefined, undefined)).toBe(65_000);
    expect(deadlineOf(timed, 5_000, 999_000, undefined)).toBe(999_000);
    expect(deadlineOf(summary({}), 5_000, undefined, undefined)).toBeUndefined();
    const member = (state: "w" | "c") =>
      summary({
        name: memberName("a", "warm", state, "0123abcd"),
        labels: { "sandfleet.pool": "warm", "sandfleet.timeout-ms": "60000" },
      });
    expect(deadlineOf(member("w"), 5_000, undefined, 7_000)).toBeUndefined();
    expect(deadlineOf(member("c"), 5_000, undefined, 7_000)).toBe(67_000);
  });
});

describe("a sandbox's usage history", () => {
  it("keeps at most its points, none older than its window, and forgets sandboxes gone", () => {
    const history = new UsageHistory({ windowMs: 10_000, maxPoints: 3 });
    for (let t = 0; t <= 5_000; t += 1_000) history.add("a", [t, t / 100, t]);
    expect(history.of("a").map((p) => p[0])).toEqual([3_000, 4_000, 5_000]);
    history.add("a", [20_000, 1, 1]);
    expect(history.of("a").map((p) => p[0])).toEqual([20_000]);
    history.add("b", [20_000, 1, 1]);
    history.keepOnly(new Set(["b"]));
    expect(Object.keys(history.all())).toEqual(["b"]);
  });
});

const sandbox = (name: string, over: Partial<DashboardSandbox> = {}): DashboardSandbox => ({
  id: `${name}-id`,
  app: "a",
  name,
  pool: undefined,
  member: undefined,
  status: "running",
  tags: {},
  createdAt: "2026-01-01T00:00:00.000Z",
  startedAt: undefined,
  exitCode: undefined,
  deadlineMs: undefined,
  idle: undefined,
  limits: { cpu: 1, memoryBytes: 1, pids: 1 },
  usage: undefined,
  ...over,
});

describe("the dashboard's search, sort and groups", () => {
  const list = [
    sandbox("web", { tags: { team: "blue" }, usage: { cpuPercent: 5, memoryBytes: 10, pids: 1 } }),
    sandbox("api", {
      app: "b",
      createdAt: "2025-01-01T00:00:00.000Z",
      usage: { cpuPercent: 50, memoryBytes: 5, pids: 1 },
    }),
    sandbox("m1", { pool: "warm", member: "ready" }),
    sandbox("m2", { pool: "warm", member: "claimed", usage: { cpuPercent: 1, memoryBytes: 99, pids: 1 } }),
  ];
  it("finds by name, id, tag and key=value", () => {
    expect(list.filter((s) => matches(s, "web")).map((s) => s.name)).toEqual(["web"]);
    expect(list.filter((s) => matches(s, "api-id")).map((s) => s.name)).toEqual(["api"]);
    expect(list.filter((s) => matches(s, "team=blue")).map((s) => s.name)).toEqual(["web"]);
    expect(list.filter((s) => matches(s, "BLUE")).map((s) => s.name)).toEqual(["web"]);
    expect(list.filter((s) => matches(s, "")).length).toBe(4);
  });
  it("sorts by name, age, CPU and memory", () => {
    expect(sorted(list, "name").map((s) => s.name)).toEqual(["m1", "m2", "web", "api"]);
    expect(sorted(list, "age")[0]?.name).toBe("api");
    expect(sorted(list, "cpu").map((s) => s.name)).toEqual(["api", "web", "m2", "m1"]);
    expect(sorted(list, "memory").map((s) => s.name)).toEqual(["m2", "web", "api", "m1"]);
  });
  it("groups by app, and by pool with warm and claimed members apart", () => {
    expect(grouped(list, "app").map((g) => [g.title, g.sandboxes.length])).toEqual([
      ["a", 3],
      ["b", 1],
    ]);
    expect(grouped(list, "pool").map((g) => g.title)).toEqual(["a/warm · warm", "a/warm · claimed", "not in a pool"]);
  });
});

describe("the dashboard's request checks", () => {
  it("takes its own host on loopback only, with its port", () => {
    expect(hostAllowed("127.0.0.1:7777", "127.0.0.1", 7777)).toBe(true);
    expect(hostAllowed("localhost:7777", "127.0.0.1", 7777)).toBe(true);
    expect(hostAllowed("evil.example:7777", "127.0.0.1", 7777)).toBe(false);
    expect(hostAllowed("127.0.0.1:80", "127.0.0.1", 7777)).toBe(false);
    expect(hostAllowed(undefined, "127.0.0.1", 7777)).toBe(false);
  });
  it("serves its API only to its own origin", () => {
    const own = { host: "127.0.0.1:7777" };
    expect(foreignRequest(own)).toBeUndefined();
    expect(
      foreignRequest({ ...own, origin: "http://127.0.0.1:7777", "sec-fetch-site": "same-origin" }),
    ).toBeUndefined();
    for (const origin of ["http://evil.example", "null", "https://127.0.0.1:7777", "http://localhost:7777"])
      expect(foreignRequest({ ...own, origin })).toMatch(/refused/);
    for (const site of ["cross-site", "same-site"])
      expect(foreignRequest({ ...own, "sec-fetch-site": site })).toMatch(/refused/);
  });
});

/**
 * An engine that answers the feed's reads slowly, counts how many are in
 * flight, and whose listing lags: it says running after the pause, as
 * Docker's did when read at the pause's event; an inspect tells the truth.
 */
function slowEngine() {
  let inFlight = 0;
  let lists = 0;
  let status: ContainerSummary["status"] = "running";
  const pushed: ((e: EngineEvent) => void)[] = [];
  const slow = async <T>(value: T): Promise<T> => {
    inFlight++;
    lists++;
    await new Promise((resolve) => setTimeout(resolve, 30));
    inFlight--;
    return value;
  };
  const container = (): ContainerInfo =>
    ({
      startedAt: "2026-01-01T00:00:00Z",
      status,
      nanoCpus: 1e9,
      memoryBytes: 1 << 20,
      pidsLimit: 10,
    }) as ContainerInfo;
  const engine = {
    host: "kubernetes://test/ns",
    info: async () => info("kubernetes"),
    containers: {
      list: async () => {
        if (inFlight > 0) throw new Error("two reads in flight");
        return slow([summary({ status: "running" })]);
      },
      inspect: async () => container(),
      stats: async () => ({ cpuNs: 0, memoryBytes: 1, memoryLimitBytes: 1, pids: 1 }),
    },
    records: { list: async () => [] },
    exec: {},
    events: {
      async *watch({ signal }: { signal: AbortSignal }) {
        while (!signal.aborted) {
          yield await new Promise<EngineEvent>((resolve) => pushed.push(resolve));
        }
      },
    },
  } as unknown as Engine;
  return {
    engine,
    lists: () => lists,
    pause: () => {
      status = "paused";
      for (const p of pushed.splice(0)) p({ action: "pause", containerId: "c1" } as EngineEvent);
    },
  };
}

describe("the dashboard's feed", () => {
  it("reads the engine once at a time for every page, and pushes a change an engine event tells at once (inspected: the listing lags)", async () => {
    const fake = slowEngine();
    // A tick far longer than the test: only events and refreshes bring reads.
    const feed = new DashboardFeed(fake.engine, undefined, {
      tickMs: 60_000,
      sampleMs: 60_000,
      activityMs: 60_000,
      historyMs: 60_000,
    });
    try {
      const seen: string[][] = [[], [], []];
      for (const page of seen)
        feed.subscribe((event, json) => {
          if (event === "overview")
            page.push((JSON.parse(json) as { sandboxes: { status: string }[] }).sandboxes[0]?.status ?? "");
        });
      expect((await feed.overview()).engineInfo.kind).toBe("Kubernetes");
      // Many asks at once make no pile of reads.
      await Promise.all(Array.from({ length: 20 }, () => feed.refresh()));
      expect(feed.maxInFlight).toBe(1);
      fake.pause();
      await until("every page to show the pause", async () => seen.every((p) => p.at(-1) === "paused"), 5_000);
      expect(feed.maxInFlight).toBe(1);
      // Twenty refreshes at once are served by a few reads, not twenty.
      expect(fake.lists()).toBeLessThan(40);
    } finally {
      feed.close();
    }
  });
});
