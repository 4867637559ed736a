import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../provider/errors.ts";
import { sandboxProvider } from "../../provider/resources/sandbox-provider.ts";
import { Sandbox } from "../../provider/client/sandbox.ts";
import { containerQuotaGroup } from "../support/btrfs-quota.ts";
import { DisposableEngine } from "../support/disposable-engine.ts";
import { cleanupApp, docker, uniqueApp } from "../support/engine.ts";

interface Inspect {
  Config: { Healthcheck?: { Test?: string[] }; User: string; Entrypoint?: string[] };
  HostConfig: Record<string, unknown> & {
    CapAdd: string[] | null;
    CapDrop: string[] | null;
    SecurityOpt: string[] | null;
    Binds: string[] | null;
    Devices: unknown[] | null;
    PortBindings: Record<string, { HostIp: string }[]> | null;
    RestartPolicy: { Name: string; MaximumRetryCount: number };
  };
  Mounts: { Source: string; Destination: string; Propagation: string }[];
}

/** What docker-bench-security reads: the engine's own inspect output, through the docker CLI. */
function inspect(id: string): Inspect {
  return (JSON.parse(execFileSync("docker", ["inspect", id], { encoding: "utf8" })) as Inspect[])[0] as Inspect;
}

describe("the bounds of a default sandbox", () => {
  const app = uniqueApp("bounds");
  afterAll(() => cleanupApp(app));

  it("passes what docker-bench section 5 scores, read through docker inspect", async () => {
    await using sandbox = await Sandbox.create({ app, image: "sandfleet/busybox" });
    const info = inspect(sandbox.id);
    const host = info.HostConfig;
    expect(host.CapDrop).toEqual(["ALL"]); // 5.4
    expect(host.CapAdd ?? []).toEqual([]);
    expect(host.Privileged).toBe(false); // 5.5
    expect(host.Binds ?? []).toEqual([]); // 5.6, 5.32: no host path, no docker.sock
    // No host path: the one mount is the supervisor's named volume, read-only.
    expect(info.Mounts).toEqual([expect.objectContaining({ Type: "volume", Destination: "/.sandfleet", RW: false })]);
    expect(host.NetworkMode).toBe("none"); // 5.10, 5.30: neither the host's nor the default bridge
    expect(host.Memory).toBeGreaterThan(0); // 5.11
    expect(host.NanoCpus).toBeGreaterThan(0); // 5.12
    expect(["no", "on-failure"]).toContain(host.RestartPolicy.Name); // 5.15
    expect(host.RestartPolicy.MaximumRetryCount).toBeLessThanOrEqual(5);
    for (const mode of ["PidMode", "IpcMode", "UTSMode", "UsernsMode"]) expect(host[mode]).not.toBe("host"); // 5.16, 5.17, 5.21, 5.31
    expect(host.Devices ?? []).toEqual([]); // 5.18
    expect(info.Mounts.filter((m) => /shared/.test(m.Propagation))).toEqual([]); // 5.20
    expect((host.SecurityOpt ?? []).join(" ")).not.toMatch(/seccomp[:=]unconfined/); // 5.22
    expect(host.CgroupParent ?? "").toBe(""); // 5.25
    expect(host.SecurityOpt).toContain("no-new-privileges"); // 5.26
    expect(info.Config.Healthcheck?.Test).toEqual(["CMD", "/.sandfleet/sandfleet-supervisor", "version"]); // 5.27
    expect(host.PidsLimit).toBeGreaterThan(0); // 5.29
    // The supervisor is the init: PID 1, reaping orphans and forwarding signals.
    expect(info.Config.Entrypoint?.[0]).toBe("/.sandfleet/sandfleet-supervisor");
    expect(host.Init ?? false).toBe(false);
    // 5.27's check needs nothing from the image: it passes in a busybox sandbox and a python one.
    expect((await sandbox.run(["/.sandfleet/sandfleet-supervisor", "version"])).exitCode).toBe(0);
  });

  it("makes the readiness probe its health check", async () => {
    await using sandbox = await Sandbox.create({
      app,
      image: "sandfleet/python",
      network: "none",
      readiness: { exec: ["python3", "-c", "pass"] },
    });
    expect(inspect(sandbox.id).Config.Healthcheck?.Test).toEqual(["CMD", "python3", "-c", "pass"]);
  });

  it("keeps code inside: no sysrq, no Docker socket, no route out, pids bounded", async () => {
    await using sandbox = await Sandbox.create({ app, image: "sandfleet/busybox", pidsLimit: 32 });
    const sysrq = await sandbox.run(["sh", "-c", "echo h > /proc/sysrq-trigger"]);
    expect(sysrq.exitCode).not.toBe(0);
    const socket = await sandbox.run(["sh", "-c", "ls /var/run/docker.sock /run/docker.sock"]);
    expect(socket.exitCode).not.toBe(0);
    const route = await sandbox.run(["cat", "/proc/net/route"]);
    // Only the header: no interface but loopback, so no route anywhere.
    expect(route.stdout.trim().split("\n")).toHaveLength(1);
    const bomb = await sandbox.run(["sh", "-c", "for i in $(seq 64); do sleep 30 & done; wait"], { timeoutMs: 5000 });
    expect(bomb.stderr).toMatch(/can't fork|Resource temporarily unavailable/);
  });
});

describe("a disk bound per sandbox", () => {
  const app = uniqueApp("disk");
  afterAll(() => cleanupApp(app));

  it("stops writes past the bound with a quota error: the sandbox's own usage, as btrfs and the engine count it, stays within it", async () => {
    const bound = 64 * 1024 * 1024;
    await using sandbox = await Sandbox.create({ app, image: "sandfleet/busybox", diskMiB: 64 });
    expect((await docker.containers.inspect(sandbox.id))?.diskBytes).toBe(bound);
    const fill = await sandbox.run(["sh", "-c", "dd if=/dev/zero of=/fill bs=1M count=512"]);
    expect(fill.exitCode).not.toBe(0);
    expect(fill.stderr).toMatch(/Disk quota exceeded|No space left on device/);
    // What the sandbox holds, counted for it alone (other processes writing to the same disk
    // change neither): its layer's quota group, limited at the bound and filled up to it...
    const group = await containerQuotaGroup(docker, sandbox.id);
    expect(group.maxReferencedBytes).toBe(bound);
    expect(group.referencedBytes).toBeLessThanOrEqual(bound);
    expect(group.referencedBytes).toBeGreaterThan(bound - 8 * 1024 * 1024);
    // ...and the engine's own accounting of the container's writable layer.
    const { diskBytes } = await docker.containers.stats(sandbox.id);
    expect(diskBytes).toBeLessThanOrEqual(bound);
    expect(diskBytes).toBeGreaterThan(bound - 8 * 1024 * 1024);
  });

  it("bounds a default sandbox at 10 GiB", async () => {
    await using sandbox = await Sandbox.create({ app, image: "sandfleet/busybox" });
    expect((await docker.containers.inspect(sandbox.id))?.diskBytes).toBe(10 * 1024 * 1024 * 1024);
  });

  describe("on an engine whose storage cannot bound it", () => {
    let engine: DisposableEngine;
    beforeAll(async () => {
      engine = await DisposableEngine.start();
    });
    afterAll(() => engine.dispose());

    it("refuses `disk` in check and at create, saying why, and runs a sandbox without it unbounded", async () => {
      const inputs = { app, name: "d", image: "sandfleet/busybox", diskMiB: 64, dockerHost: engine.host };
      const checked = await sandboxProvider.check({}, inputs);
      expect(checked.failures).toEqual([
        { property: "diskMiB", reason: expect.stringContaining("cannot bound a container's disk") as unknown },
      ]);
      const attempt = Sandbox.create({ app, image: "sandfleet/busybox", diskMiB: 64 }, { dockerHost: engine.host });
      await expect(attempt).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(attempt).rejects.toThrow(/stores containers with overlay2 on extfs, which cannot bound/);
      expect(await engine.docker.containers.list({})).toEqual([]);
      await using unbounded = await Sandbox.create({ app, image: "sandfleet/busybox" }, { dockerHost: engine.host });
      expect((await engine.docker.containers.inspect(unbounded.id))?.diskBytes).toBeUndefined();
    });
  });
});
