import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync, existsSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkLocalState } from "../../provider/cli/state-guard.ts";
import { sandboxProvider } from "../../provider/resources/sandbox-provider.ts";
import { connectDocker } from "../../provider/engines/docker/client.ts";
import { EngineUnavailableError } from "../../provider/errors.ts";
import { currentMaker, makerIsGone } from "../../provider/runtime/local/maker.ts";
import { isAbandoned, type PoolMember } from "../../provider/runtime/pools/pool.ts";

/** A process that has run and exited: its pid is free. */
function deadPid(): number {
  return spawnSync("true").pid;
}

describe("makers of half-made objects", () => {
  it("knows this process is alive and an exited one is gone", () => {
    expect(makerIsGone(currentMaker())).toBe(false);
    expect(makerIsGone(`${hostname()}:${String(deadPid())}:12345`)).toBe(true);
  });

  it("sees a reused pid as another process", () => {
    const [host, pid] = currentMaker().split(":");
    expect(makerIsGone(`${host ?? ""}:${pid ?? ""}:1`)).toBe(true);
  });

  it("cannot tell for another host or no label, so says not gone", () => {
    expect(makerIsGone(`some-other-host:${String(deadPid())}:1`)).toBe(false);
    expect(makerIsGone(undefined)).toBe(false);
  });
});

describe("abandoned pending pool members", () => {
  const now = Date.now();
  const member = (over: Partial<PoolMember>): PoolMember => ({
    id: "c1",
    containerName: "sandfleet-a-p-p-1",
    memberId: "1",
    state: "pending",
    templateHash: "h",
    running: true,
    paused: false,
    createdMs: now,
    maker: currentMaker(),
    ...over,
  });
  const template = { image: "sandfleet/busybox", readiness: { exec: ["true"], timeoutMs: 10_000 } };

  it("are those whose maker is gone", () => {
    expect(isAbandoned(member({}), template, now)).toBe(false);
    expect(isAbandoned(member({ maker: `${hostname()}:${String(deadPid())}:1` }), template, now)).toBe(true);
  });

  it("are those pending longer than the probe may take plus a grace, whoever made them", () => {
    const old = member({ maker: "elsewhere:1:1", createdMs: now - 10_000 - 31_000 });
    expect(isAbandoned(old, template, now)).toBe(true);
    expect(isAbandoned(member({ maker: "elsewhere:1:1", createdMs: now - 20_000 }), template, now)).toBe(false);
  });

  it("never include warm or claimed members", () => {
    const gone = `${hostname()}:${String(deadPid())}:1`;
    expect(isAbandoned(member({ state: "warm", maker: gone }), template, now)).toBe(false);
    expect(isAbandoned(member({ state: "claimed", maker: gone }), template, now)).toBe(false);
  });
});

describe("an unreachable engine", () => {
  it("is named in one message, by the client that knows which engine it is", async () => {
    const docker = connectDocker("unix:///run/sandfleet-no-engine.sock");
    const attempt = docker.containers.inspect("abc");
    await expect(attempt).rejects.toBeInstanceOf(EngineUnavailableError);
    await expect(attempt).rejects.toThrow(
      /^inspect container abc: the Docker engine at unix:\/\/\/run\/sandfleet-no-engine.sock is unreachable \(ENOENT\)$/,
    );
    await expect(docker.ping()).rejects.toThrow(
      "the Docker engine at unix:///run/sandfleet-no-engine.sock is unreachable",
    );
  });
});

describe("the local backend's state, before up", () => {
  function backend(): { dir: string; stacks: string; locks: string } {
    const dir = mkdtempSync(join(tmpdir(), "sandfleet-state-"));
    const stacks = join(dir, ".pulumi", "stacks", "proj");
    const locks = join(dir, ".pulumi", "locks", "proj", "dev");
    mkdirSync(stacks, { recursive: true });
    mkdirSync(locks, { recursive: true });
    return { dir, stacks, locks };
  }
  const good = JSON.stringify({ version: 3, checkpoint: { latest: { resources: [] } } });

  it("says nothing about a whole state", () => {
    const b = backend();
    writeFileSync(join(b.stacks, "dev.json"), good);
    expect(checkLocalState(b.dir, "proj", "dev")).toEqual([]);
  });

  it("stops at a state file cut short, naming the backup to restore", () => {
    const b = backend();
    writeFileSync(join(b.stacks, "dev.json"), '{"version": 3, "checkp');
    writeFileSync(join(b.stacks, "dev.json.bak"), good);
    const [finding] = checkLocalState(b.dir, "proj", "dev");
    expect(finding?.severity).toBe("fatal");
    expect(finding?.message).toContain(`${join(b.stacks, "dev.json")} is cut short`);
    expect(finding?.message).toContain(`cp ${join(b.stacks, "dev.json.bak")} ${join(b.stacks, "dev.json")}`);
  });

  it("removes an .attrs sidecar cut short beside a whole state, says so, and goes on", () => {
    for (const cut of ["", '{"resou']) {
      const b = backend();
      writeFileSync(join(b.stacks, "dev.json"), good);
      writeFileSync(join(b.stacks, "dev.json.attrs"), cut);
      const findings = checkLocalState(b.dir, "proj", "dev");
      expect(findings).toHaveLength(1);
      expect(findings[0]).toMatchObject({ severity: "note", kind: "damaged" });
      expect(findings[0]?.message).toContain(`removed ${join(b.stacks, "dev.json.attrs")}, cut short`);
      expect(existsSync(join(b.stacks, "dev.json.attrs"))).toBe(false);
      expect(existsSync(join(b.stacks, "dev.json"))).toBe(true);
    }
  });

  it("keeps a whole .attrs sidecar", () => {
    const b = backend();
    writeFileSync(join(b.stacks, "dev.json"), good);
    writeFileSync(join(b.stacks, "dev.json.attrs"), '{"resourceCount": 2}');
    expect(checkLocalState(b.dir, "proj", "dev")).toEqual([]);
    expect(existsSync(join(b.stacks, "dev.json.attrs"))).toBe(true);
  });

  it("notes an interrupted update and goes on", () => {
    const b = backend();
    const state = {
      checkpoint: { latest: { pending_operations: [{ type: "creating", resource: { urn: "urn:x::sa" } }] } },
    };
    writeFileSync(join(b.stacks, "dev.json"), JSON.stringify(state));
    const findings = checkLocalState(b.dir, "proj", "dev");
    expect(findings.map((f) => f.severity)).toEqual(["note"]);
    expect(findings[0]?.message).toContain("interrupted during 1 operation(s): creating sa");
    expect(findings[0]?.kind).toBe("pending");
  });

  it("removes a lock whose process is gone, and refuses one held by a live pulumi", async () => {
    const b = backend();
    const stale = join(b.locks, "stale.json");
    writeFileSync(stale, JSON.stringify({ pid: deadPid(), hostname: hostname() }));
    const findings = checkLocalState(b.dir, "proj", "dev");
    expect(findings.map((f) => f.severity)).toEqual(["note"]);
    expect(findings[0]?.message).toContain("removed a stale lock");
    expect(existsSync(stale)).toBe(false);
    // A process named pulumi that started before its lock was written holds it.
    const bin = join(mkdtempSync(join(tmpdir(), "sandfleet-bin-")), "pulumi");
    copyFileSync("/bin/sleep", bin);
    const pulumi = spawn(bin, ["30"], { stdio: "ignore" });
    try {
      await new Promise((resolve) => pulumi.once("spawn", resolve));
      const lock = { pid: pulumi.pid, hostname: hostname(), timestamp: new Date().toISOString() };
      writeFileSync(join(b.locks, "live.json"), JSON.stringify(lock));
      const [live] = checkLocalState(b.dir, "proj", "dev");
      expect(live).toMatchObject({ severity: "fatal", kind: "lock" });
      expect(live?.message).toContain(`locked by a running pulumi (pid ${String(pulumi.pid)}`);
    } finally {
      pulumi.kill();
    }
  });

  it("removes a lock whose pid now belongs to another program, never pointing at it", () => {
    const b = backend();
    // This test's own process is alive, and it is not the pulumi that took the lock.
    const lock = { pid: process.pid, hostname: hostname(), timestamp: "2020-01-01T00:00:00Z" };
    writeFileSync(join(b.locks, "reused.json"), JSON.stringify(lock));
    const findings = checkLocalState(b.dir, "proj", "dev");
    expect(findings.map((f) => f.severity)).toEqual(["note"]);
    expect(findings[0]?.message).toContain("that pid now belongs to another program");
    expect(findings[0]?.message).not.toContain("kill");
    expect(existsSync(join(b.locks, "reused.json"))).toBe(false);
  });

  it("detects a compressed state cut short", () => {
    const b = backend();
    const whole = gzipSync(good);
    writeFileSync(join(b.stacks, "dev.json.gz"), whole.subarray(0, whole.length - 6));
    const [finding] = checkLocalState(b.dir, "proj", "dev");
    expect(finding).toMatchObject({ severity: "fatal", kind: "damaged" });
    expect(finding?.message).toContain("dev.json.gz is cut short");
  });

  it("with both the state and its backup cut short, names the newest whole history checkpoint", () => {
    const b = backend();
    writeFileSync(join(b.stacks, "dev.json"), '{"version": 3, "checkp');
    writeFileSync(join(b.stacks, "dev.json.bak"), '{"vers');
    const history = join(b.dir, ".pulumi", "history", "proj", "dev");
    mkdirSync(history, { recursive: true });
    writeFileSync(join(history, "dev-1700000000000000000.checkpoint.json"), good);
    writeFileSync(join(history, "dev-1800000000000000000.checkpoint.json"), '{"cut');
    const [finding] = checkLocalState(b.dir, "proj", "dev");
    const state = join(b.stacks, "dev.json");
    expect(finding?.message).toContain(`cp ${join(history, "dev-1700000000000000000.checkpoint.json")} ${state}`);
  });
});

describe("expected errors, as the dynamic-provider host prints them", () => {
  it("are one sentence: `${error}: ${error.stack}` reads `sandfleet: <message>`", async () => {
    const props = {
      app: "demo",
      name: "web",
      image: "sandfleet/busybox",
      dockerHost: "unix:///run/sandfleet-none.sock",
    };
    const error = await sandboxProvider.diff("abc", props, props).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(EngineUnavailableError);
    // Exactly how the host prints it: the error's own toString, then its stack.
    const printed = `${(error as Error).toString()}: ${String((error as Error).stack)}`;
    expect(printed).toBe(
      "sandfleet: inspect container abc: the Docker engine at unix:///run/sandfleet-none.sock is unreachable (ENOENT)",
    );
  });
});
