import { describe, expect, it } from "vitest";
import type { ContainerSpec } from "../../provider/engines/port.ts";
import { ConflictError, NotFoundError } from "../../provider/errors.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { MemoryEngine, NotSupportedError } from "../support/memory-engine.ts";

const spec = (name: string, labels: Record<string, string> = {}): ContainerSpec => ({
  name,
  image: "sandfleet/busybox",
  env: {},
  labels,
  nanoCpus: 1e9,
  memoryBytes: 64 << 20,
  pidsLimit: 64,
  readOnlyRootfs: false,
  networkMode: "none",
  capDrop: ["ALL"],
  securityOpt: [],
  runtime: "runc",
  init: true,
});

// The fake stands in for the Docker engine in the runtime's unit tests: these
// pin the answers the runtime relies on, as the Docker engine gives them.
describe("the in-memory engine", () => {
  it("refuses a rename to a taken name (409), to its own name (409, as the Docker engine maps it), and of a missing container (404)", async () => {
    const docker = new MemoryEngine();
    const a = await docker.containers.create(spec("a"));
    await docker.containers.create(spec("b"));
    await expect(docker.containers.rename(a, "b")).rejects.toBeInstanceOf(ConflictError);
    await expect(docker.containers.rename(a, "a")).rejects.toBeInstanceOf(ConflictError);
    await expect(docker.containers.rename("nope", "c")).rejects.toBeInstanceOf(NotFoundError);
    await docker.containers.rename(a, "c");
    expect((await docker.containers.inspect("c"))?.id).toBe(a);
  });

  it("lists by every label given, an empty value matching any, newest first, in whole seconds", async () => {
    const clock = new FakeClock(1_000_500);
    const docker = new MemoryEngine({ clock });
    await docker.containers.create(spec("old", { app: "x", pool: "p" }));
    await clock.advance(2000);
    await docker.containers.create(spec("new", { app: "x" }));
    expect((await docker.containers.list({ app: "x" })).map((c) => c.name)).toEqual(["new", "old"]);
    expect((await docker.containers.list({ app: "x", pool: "" })).map((c) => c.name)).toEqual(["old"]);
    expect((await docker.containers.list({ app: "x" }))[1]?.createdMs).toBe(1_000_000);
  });

  it("moves a container through created, running, paused and exited with a code, and refuses execs while paused", async () => {
    const docker = new MemoryEngine({ exec: () => ({ exitCode: 0, stdout: "hi\n" }) });
    const id = await docker.containers.create(spec("s"));
    expect((await docker.containers.inspect(id))?.status).toBe("created");
    await docker.containers.start(id);
    await docker.containers.pause(id);
    await expect(docker.exec.run(id, { argv: ["echo"] })).rejects.toThrow(/is paused/);
    await expect(docker.containers.pause(id)).rejects.toBeInstanceOf(ConflictError);
    await docker.containers.unpause(id);
    expect(await docker.exec.run(id, { argv: ["echo"] })).toEqual({ exitCode: 0, stdout: "hi\n", stderr: "" });
    const exited = docker.containers.wait(id);
    docker.exit(id, 3);
    expect(await exited).toBe(3);
    expect(await docker.containers.inspect(id)).toMatchObject({ status: "exited", running: false, exitCode: 3 });
    await docker.containers.kill(id); // nothing to kill: no error, as the Docker engine's client says
  });

  it("makes a record exactly once of any number of callers at once, the first maker's labels kept", async () => {
    const docker = new MemoryEngine();
    const made = await Promise.all(
      Array.from({ length: 20 }, (_, i) => docker.records.createIfAbsent({ name: "lock", labels: { who: String(i) } })),
    );
    expect(made.filter(Boolean)).toHaveLength(1);
    expect((await docker.records.inspect("lock"))?.labels.who).toBe(String(made.indexOf(true)));
  });

  it("keeps events with their times and labels, and streams new ones to a watcher", async () => {
    const clock = new FakeClock(5_000);
    const docker = new MemoryEngine({ clock, exec: () => ({ exitCode: 0 }) });
    const id = await docker.containers.create(spec("s", { app: "x" }));
    await docker.containers.start(id);
    const abort = new AbortController();
    const seen: string[] = [];
    const watching = (async () => {
      for await (const event of docker.events.watch({ actions: ["die"], labels: { app: "x" }, signal: abort.signal })) {
        seen.push(`${event.action} ${event.attributes.exitCode ?? ""}`);
        abort.abort();
      }
    })();
    await clock.advance(1000);
    await docker.exec.run(id, { argv: ["true"] });
    docker.exit(id, 0);
    await watching;
    expect(seen).toEqual(["die 0"]);
    const execs = await docker.events.containerEvents({
      sinceMs: 0,
      untilMs: clock.now(),
      actions: ["exec_start", "exec_die"],
      labels: { app: "x" },
    });
    expect(execs.map((e) => [e.action, e.detail, e.timeMs])).toEqual([
      ["exec_start", "true", 6000],
      ["exec_die", "", 6000],
    ]);
  });

  it("refuses what it cannot do, by name, rather than seeming to do it", async () => {
    const docker = new MemoryEngine();
    const id = await docker.containers.create(spec("s"));
    await expect(docker.containers.checkpoint(id, "c")).rejects.toBeInstanceOf(NotSupportedError);
    await expect(docker.containers.logs(id, { follow: false })).rejects.toThrow(
      "a container's logs is not supported by the in-memory engine",
    );
    await expect(docker.containers.create({ ...spec("d"), diskBytes: 1 << 20 })).rejects.toBeInstanceOf(
      NotSupportedError,
    );
    const { capabilities } = await docker.info();
    expect(capabilities.checkpoint.supported).toBe(false);
    expect(capabilities.snapshots.supported).toBe(false);
    expect(capabilities.pause.supported).toBe(true);
  });

  it("answers a command nobody scripted as the Docker engine answers a missing one", async () => {
    const docker = new MemoryEngine();
    const id = await docker.containers.create(spec("s"));
    await docker.containers.start(id);
    const result = await docker.exec.run(id, { argv: ["nope"] });
    expect(result.exitCode).toBe(126);
    expect(result.stdout).toMatch(/^OCI runtime exec failed: .*"nope": executable file not found/);
  });
});

describe("the fake clock", () => {
  it("wakes a sleeper only once time is moved past its end", async () => {
    const clock = new FakeClock(0);
    let woke = false;
    void clock.sleep(100).then(() => (woke = true));
    await clock.advance(99);
    expect(woke).toBe(false);
    await clock.advance(1);
    expect(woke).toBe(true);
    expect(clock.now()).toBe(100);
  });

  it("wakes sleepers in order, each at its own time, and lets them sleep again within one advance", async () => {
    const clock = new FakeClock(0);
    const woke: number[] = [];
    void (async () => {
      for (let i = 0; i < 3; i++) {
        await clock.sleep(40);
        woke.push(clock.now());
      }
    })();
    void clock.sleep(50).then(() => woke.push(-clock.now()));
    await clock.advance(100);
    expect(woke).toEqual([40, -50, 80]);
  });
});
