// Attacks on egress allowlists from inside a sandbox (SECURITY.md, section 1),
// against a small internet of the test's own: hosts and a DNS server in a
// network namespace on this machine.
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandfleet } from "../../provider/client/sandfleet.ts";
import { Agent } from "../../provider/runtime/agent/agent.ts";
import { askDaemon, egressSnapshot, sendEgressSnapshot } from "../../provider/runtime/networks/egress.ts";
import { egressNetworkName } from "../../provider/runtime/networks/egress-rules.ts";
import { LABEL } from "../../provider/runtime/engine-state/labels.ts";
import { writeRecord } from "../../provider/runtime/engine-state/sandbox-records.ts";
import type { Sandbox } from "../../provider/client/sandbox.ts";
import { sandfleet as cli } from "../support/cli.ts";
import { cleanupApp, docker, uniqueApp } from "../support/engine.ts";
import { startFakeInternet } from "../support/fake-internet.ts";
import { runCommand } from "../support/run.ts";
import { until } from "../support/until.ts";

const PROBE = readFileSync(new URL("../fixtures/scripts/egress_probe.py", import.meta.url), "utf8");

/**
 * A sandbox's main process from its first instant: for four seconds, connect
 * to ADDRESS:80 and ask the gateway's resolver for NAME, every 50 ms; then
 * write what each try got to /tmp/first.json.
 */
const FIRST_PACKETS = `
import json, random, socket, struct, sys, time
address, name = sys.argv[1], sys.argv[2]
def gateway():
    for line in open("/proc/net/route").read().splitlines()[1:]:
        fields = line.split()
        if fields[1] == "00000000":
            return socket.inet_ntoa(struct.pack("<I", int(fields[2], 16)))
def ask(server):
    q = struct.pack("!HHHHHH", random.randrange(65536), 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\\0" + struct.pack("!HH", 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.3)
    s.sendto(q, (server, 53))
    data = s.recv(4096)
    return struct.unpack("!H", data[2:4])[0] & 0xF, struct.unpack("!H", data[6:8])[0]
tries = []
end = time.time() + 4
while time.time() < end:
    t = {}
    try:
        socket.create_connection((address, 80), timeout=0.3).close()
        t["connected"] = True
    except Exception as e:
        t["connected"] = False
    try:
        t["rcode"], t["answers"] = ask(gateway())
    except Exception as e:
        t["dns"] = type(e).__name__
    tries.append(t)
    time.sleep(0.05)
open("/tmp/first.json.part", "w").write(json.dumps(tries))
import os
os.rename("/tmp/first.json.part", "/tmp/first.json")
time.sleep(100000)
`;

interface Probe {
  addresses?: string[];
  rcode?: number;
  connected?: boolean;
  sent?: number;
  error?: string;
  ms: number;
}

async function probe(sandbox: Sandbox, ...args: string[]): Promise<Probe> {
  const { stdout } = await sandbox.run(["python3", "-c", PROBE, ...args]);
  return JSON.parse(stdout) as Probe;
}

/** A connection kept busy inside the sandbox: the times of its echoes, and when and why it ended. */
async function openFlow(sandbox: Sandbox, proto: "tcp" | "udp", address: string) {
  const process = await sandbox.exec(["python3", "-c", PROBE, "flow", proto, address, "7", "60"]);
  const flow = { echoes: [] as number[], ended: undefined as { at: number; error: string } | undefined };
  let pending = "";
  process.stdout.on("data", (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      const event = JSON.parse(line) as { echo?: number; ended?: number; error?: string };
      if (event.echo !== undefined) flow.echoes.push(event.echo);
      if (event.ended !== undefined) flow.ended = { at: event.ended, error: event.error ?? "" };
    }
  });
  await until(`${proto} echoes from ${address}`, () => Promise.resolve(flow.echoes.length >= 3), 30_000);
  return flow;
}

describe("egress allowlists, attacked from inside a sandbox", () => {
  const app = uniqueApp("egsec");
  const otherApp = uniqueApp("egsec2");
  // Apps of their own, whose networks hold one sandbox at a time: the next one gets the same address.
  const reuseApp = uniqueApp("egsec3");
  const staleApp = uniqueApp("egsec4");
  let lanAddress = "";
  const sandfleet = new Sandfleet({ docker });
  let internet: Awaited<ReturnType<typeof startFakeInternet>>;
  const address = (key: string) => internet.hosts[key]?.address ?? "";

  beforeAll(async () => {
    // This host's address on its LAN (the kernel's choice of source towards the outside; nothing is sent).
    const route = await runCommand("ip", ["-4", "-o", "route", "get", "192.0.2.1"]);
    lanAddress = /\bsrc (\S+)/.exec(route.stdout)?.[1] ?? "127.0.0.1";
    internet = await startFakeInternet(
      { echo: ["echo.test"], named: ["named.test"], blocked: ["blocked.test"] },
      {
        zone: (hosts) => ({
          "y.ok.example": { a: hosts.echo?.address ?? "" },
          "alias.ok.example": { cname: "elsewhere.example" },
          "elsewhere.example": { a: hosts.blocked?.address ?? "" },
          "metadata.ok.example": { a: "169.254.169.254" },
          "host.ok.example": { a: "172.17.0.1" },
          "private.ok.example": { a: "10.0.0.1" },
          "testnet1.ok.example": { a: "192.0.2.10" },
          "testnet2.ok.example": { a: "198.51.100.10" },
          "testnet3.ok.example": { a: "203.0.113.10" },
          "bench.ok.example": { a: "198.19.0.10" },
          "relay.ok.example": { a: "192.88.99.1" },
          "lan.ok.example": { a: lanAddress },
          "gateway.ok.example": { a: hosts.echo?.address.replace(/\.\d+$/, ".1") ?? "" },
        }),
      },
    );
    process.env.SANDFLEET_EGRESS_HOSTS = internet.hostsFile;
    process.env.SANDFLEET_EGRESS_PUBLIC = internet.network;
    process.env.SANDFLEET_EGRESS_UPSTREAM = `${internet.dns?.address ?? ""}:53`;
  }, 720_000);
  afterAll(async () => {
    try {
      // A network whose last sandbox is still leaving refuses to go for a moment.
      await until(
        "the apps are cleaned up",
        async () => {
          try {
            await cleanupApp(app);
            await cleanupApp(otherApp);
            await cleanupApp(reuseApp);
            await cleanupApp(staleApp);
            return true;
          } catch {
            return false;
          }
          // Removals are paced per engine and wait behind every other file's: on a busy engine, minutes.
        },
        170_000,
      );
    } finally {
      await internet.stop();
      delete process.env.SANDFLEET_EGRESS_HOSTS;
      delete process.env.SANDFLEET_EGRESS_UPSTREAM;
      delete process.env.SANDFLEET_EGRESS_PUBLIC;
    }
  });

  it("refuses a name with a dot inside a label (x\\.ok.example under *.ok.example), and never asks upstream", async () => {
    const sandbox = await sandfleet.sandboxes.create({
      app,
      image: "sandfleet/python",
      egress: { allow: ["*.ok.example"] },
      timeoutMs: 600_000,
    });
    // The allowed name reaches the upstream server, label by label: the server's record is complete.
    expect(await probe(sandbox, "dnsraw", "gateway", "y", "ok", "example")).toMatchObject({
      rcode: 0,
      addresses: [address("echo")],
    });
    await until("the upstream server saw y.ok.example", () =>
      Promise.resolve(internet.dns?.questions.some((q) => q.labels.join("|") === "y|ok|example") ?? false),
    );
    // A label holding a dot, a NUL, or case games: each ends in ".ok.example" as text only.
    for (const labels of [
      ["x.ok", "example"],
      ["X.OK", "EXAMPLE"],
      ["evil.test\\x00", "ok", "example"],
      ["a b", "ok", "example"],
      ["\\xe9", "ok", "example"],
      ["_x", "ok", "example"],
    ]) {
      const answer = await probe(sandbox, "dnsraw", "gateway", ...labels);
      expect(answer.rcode, JSON.stringify(labels)).not.toBe(0);
      expect(answer.addresses).toEqual([]);
    }
    // The daemon sends a query upstream before it answers: by now any of them would have been seen.
    expect(internet.dns?.questions.filter((q) => q.labels.some((l) => !/^[a-z0-9-]+$/i.test(l)))).toEqual([]);
  });

  it("does not answer an allowed name that is an alias (CNAME) of a name off the list", async () => {
    const sandbox = await sandfleet.sandboxes.create({
      app,
      image: "sandfleet/python",
      egress: { allow: ["*.ok.example"] },
      timeoutMs: 600_000,
    });
    const answer = await probe(sandbox, "dnsraw", "gateway", "alias", "ok", "example");
    expect(answer.addresses).toEqual([]);
    expect((await probe(sandbox, "connect", address("blocked"), "80")).error).toMatch(/ConnectionRefusedError/);
  });

  it("does not let an allowed name resolve to an internal address (rebinding) the list does not name", async () => {
    const sandbox = await sandfleet.sandboxes.create({
      app,
      image: "sandfleet/python",
      egress: { allow: ["*.ok.example"] },
      timeoutMs: 600_000,
    });
    for (const name of ["metadata.ok.example", "host.ok.example", "private.ok.example"]) {
      expect((await probe(sandbox, "resolve", name)).error, name).toMatch(/gaierror/);
    }
    const refusals = await sandbox.egressRefusals();
    expect(refusals.map((r) => r.reason)).toContain(
      "the name resolved to 169.254.169.254, an internal address the egress allowlist does not name",
    );
  });

  it("resolves no peer's name, neither through sandfleet's resolver nor the engine's DNS server at 127.0.0.11", async () => {
    const peer = await sandfleet.sandboxes.create({
      app,
      name: "peer",
      image: "sandfleet/python",
      egress: { allow: [] },
      timeoutMs: 600_000,
    });
    const prober = await sandfleet.sandboxes.create({
      app,
      image: "sandfleet/python",
      egress: { allow: ["*.ok.example"] },
      timeoutMs: 600_000,
    });
    const seen = await docker.containers.inspect(peer.id);
    const peerName = (seen?.name ?? "").replace(/^\//, "");
    const peerAddress = Object.values(seen?.addresses ?? {})[0] ?? "";
    expect(peerName).not.toBe("");
    for (const name of [peerName, peer.id.slice(0, 12)]) {
      expect((await probe(prober, "resolve", name)).error, name).toMatch(/gaierror/);
      const direct = await probe(prober, "dnsraw", "127.0.0.11", ...name.split("."));
      expect(direct.addresses ?? [], name).toEqual([]);
    }
    expect((await probe(prober, "reverse", peerAddress)).error).toMatch(/herror|gaierror/);
    // Names on the list still resolve, through sandfleet's resolver.
    expect((await probe(prober, "resolve", "y.ok.example")).addresses).toEqual([address("echo")]);
  });

  it("ends connections already open when their destination leaves the list (CIDR and name, TCP and UDP) within a second", async () => {
    const sandbox = await sandfleet.sandboxes.create({
      app,
      image: "sandfleet/python",
      egress: { allow: [`${address("echo")}/32`, "named.test", `${address("blocked")}/32`] },
      timeoutMs: 600_000,
    });
    expect((await probe(sandbox, "resolve", "named.test")).addresses).toEqual([address("named")]);
    const removed = await Promise.all([
      openFlow(sandbox, "tcp", address("echo")),
      openFlow(sandbox, "udp", address("echo")),
      openFlow(sandbox, "tcp", address("named")),
      openFlow(sandbox, "udp", address("named")),
    ]);
    // A destination still on the list keeps its connection.
    const kept = await openFlow(sandbox, "tcp", address("blocked"));
    await sandbox.setEgress({ allow: [`${address("blocked")}/32`] });
    const changedAt = Date.now();
    await until("every removed connection ended", () => Promise.resolve(removed.every((f) => f.ended)), 15_000);
    console.log(
      `flows after the change: ${removed
        .map(
          (f) =>
            `last echo ${String(Math.round(Math.max(...f.echoes) - changedAt))} ms, ended: ${f.ended?.error ?? ""}`,
        )
        .join("; ")}`,
    );
    for (const flow of removed) {
      // No echo came back more than a second after the list changed.
      expect(flow.echoes.filter((t) => t > changedAt + 1000)).toEqual([]);
    }
    const before = kept.echoes.length;
    await until("the kept connection echoes on", () => Promise.resolve(kept.echoes.length >= before + 10), 15_000);
    expect(kept.ended).toBeUndefined();
  });

  it("bounds the log of a flood of refused packets, per sandbox, and keeps another sandbox's refusals", async () => {
    const flooder = await sandfleet.sandboxes.create({
      app,
      image: "sandfleet/python",
      egress: { allow: [] },
      timeoutMs: 600_000,
    });
    const quiet = await sandfleet.sandboxes.create({
      app,
      image: "sandfleet/python",
      egress: { allow: [] },
      timeoutMs: 600_000,
    });
    const { LogPath: logPath } = await inspectDaemon();
    const sizeBefore = statSync(logPath).size;
    const flood = probe(flooder, "flood", address("blocked"), "9", "200000");
    await probe(quiet, "connect", address("blocked"), "8443");
    const { sent = 0 } = await flood;
    expect(sent).toBeGreaterThan(100_000);
    // Every refused packet is accounted for: logged one by one, or counted in a summary.
    await until(
      "the flood is counted",
      async () => {
        const refusals = await flooder.egressRefusals();
        const counted = refusals.reduce((n, r) => n + (r.more ?? 1), 0);
        return counted >= sent * 0.95;
      },
      30_000,
    );
    const startedAt = Date.now();
    const refusals = await flooder.egressRefusals();
    const callMs = Date.now() - startedAt;
    // A bounded answer, whatever the flood: the newest 500.
    expect(refusals.length).toBeLessThanOrEqual(500);
    expect(refusals.some((r) => r.more && r.reason.includes("more refused"))).toBe(true);
    const written = statSync(logPath).size - sizeBefore;
    console.log(
      `flood: ${String(sent)} refused packets, ${String(written)} log bytes, refusals call ${String(callMs)} ms`,
    );
    // 200,000 refusals one line each would be some 40 MB.
    expect(written).toBeLessThan(1024 * 1024);
    expect((await inspectDaemon()).HostConfig.LogConfig.Config).toMatchObject({
      "max-size": String(10 * 1024 * 1024),
    });
    // The flood does not crowd out another sandbox's refusal.
    expect((await quiet.egressRefusals()).map((r) => r.destination)).toContain(`${address("blocked")}:8443 (tcp)`);
  });

  it("refuses addresses the daemon would read otherwise (10.0.0.0/08, 010.001.002.003) at validate, with a position", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sandfleet-egress-"));
    const file = join(dir, "sandfleet.yaml");
    writeFileSync(
      file,
      [
        "app: egress-grammar",
        "sandboxes:",
        "  agent:",
        "    image: sandfleet/python",
        "    egress:",
        "      allow:",
        "        - pypi.org",
        "        - 10.0.0.0/08",
        '        - "010.001.002.003"',
        "        - 10.0.0.1/8",
        "",
      ].join("\n"),
    );
    const result = await cli(["validate", file]);
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toContain(
      `${file}:8:11  sandboxes.agent.egress.allow[1]: "10.0.0.0/08" is not a domain, a *.domain wildcard, or an IPv4 address or CIDR: the prefix length must be 0 to 32 without leading zeros`,
    );
    expect(result.stdout + result.stderr).toContain(`${file}:9:11  sandboxes.agent.egress.allow[2]`);
    expect(result.stdout + result.stderr).toContain(`${file}:10:11  sandboxes.agent.egress.allow[3]`);
    // The API gives the same verdict, before anything is made.
    await expect(
      sandfleet.sandboxes.create({ app, image: "sandfleet/python", egress: { allow: ["10.0.0.0/08"] } }),
    ).rejects.toThrow(/egress\.allow\[0\] "10\.0\.0\.0\/08" .*leading zeros/);
  });

  it("an agent pass with one app's list broken still syncs another app's, and names the broken one", async () => {
    const broken = await sandfleet.sandboxes.create({
      app,
      name: "broken",
      image: "sandfleet/python",
      egress: { allow: [] },
      timeoutMs: 600_000,
    });
    const healthy = await sandfleet.sandboxes.create({
      app: otherApp,
      image: "sandfleet/python",
      egress: { allow: [] },
      timeoutMs: 600_000,
    });
    // A list an older version accepted, and a change the daemon was never told of.
    await writeRecord(docker, "egress", { id: broken.id, app }, { [LABEL.egress]: JSON.stringify(["10.0.0.0/08"]) });
    await writeRecord(
      docker,
      "egress",
      { id: healthy.id, app: otherApp },
      { [LABEL.egress]: JSON.stringify([`${address("echo")}/32`]) },
    );
    expect((await probe(healthy, "connect", address("echo"), "80")).error).toMatch(/ConnectionRefusedError/);
    const events = await new Agent({ docker, app: otherApp }).reconcileOnce();
    const reported = events.find((e) => e.action === "error" && e.sandbox === "broken");
    expect(reported?.detail).toContain(`app "${app}" sandbox "broken": egress.allow[0] "10.0.0.0/08"`);
    expect((await probe(healthy, "connect", address("echo"), "80")).connected).toBe(true);
    // The broken list fails closed.
    expect((await probe(broken, "connect", address("echo"), "80")).error).toMatch(/ConnectionRefusedError/);
  });

  const addressOf = async (sandbox: Sandbox, owner: string) =>
    (await docker.containers.inspect(sandbox.id))?.addresses[egressNetworkName(owner)] ?? "";

  it("gives a sandbox nothing of the list of a removed one that held its address, from its first packet", async () => {
    const before = await sandfleet.sandboxes.create({
      app: reuseApp,
      image: "sandfleet/python",
      egress: { allow: ["echo.test", `${address("echo")}/32`] },
      timeoutMs: 600_000,
    });
    expect((await probe(before, "connect", address("echo"), "80")).connected).toBe(true);
    const held = await addressOf(before, reuseApp);
    const beforeInfo = await docker.containers.inspect(before.id);
    const network = egressNetworkName(reuseApp);
    const stalePolicy = {
      id: before.id,
      ip: held,
      mac: beforeInfo?.macAddresses?.[network],
      gateway: (await docker.networks.inspect(network))?.gateway,
      allow: ["echo.test", `${address("echo")}/32`],
    };
    // Removed behind sandfleet's back (the engine's own CLI): the daemon is never told.
    expect((await runCommand("docker", ["rm", "-f", before.id])).code).toBe(0);
    const after = await sandfleet.sandboxes.create({
      app: reuseApp,
      image: "sandfleet/python",
      egress: { allow: [] },
      command: ["python3", "-c", FIRST_PACKETS, address("echo"), "echo.test"],
      timeoutMs: 600_000,
    });
    expect(await addressOf(after, reuseApp)).toBe(held);
    let tries: { connected: boolean; rcode?: number; answers?: number }[] = [];
    await until("the first packets' results", async () => {
      const { stdout, exitCode } = await after.run(["cat", "/tmp/first.json"], { check: false });
      if (exitCode !== 0) return false;
      tries = JSON.parse(stdout) as typeof tries;
      return true;
    });
    expect(tries.length).toBeGreaterThan(10);
    expect(tries.filter((t) => t.connected)).toEqual([]);
    expect(tries.filter((t) => (t.answers ?? 0) > 0)).toEqual([]);
    // The old sandbox's policy, delivered late (a create or an agent that was slow): it names the
    // old sandbox's MAC address, which the new one at the same address does not have.
    expect(stalePolicy.mac).toMatch(/^0a:/);
    expect(await askDaemon(docker, { op: "set", networks: [], policies: [stalePolicy] }, true)).toBeUndefined();
    expect((await probe(after, "connect", address("echo"), "80")).error).toMatch(/ConnectionRefusedError/);
    // Nor does the resolver answer the new sandbox from it.
    const answer = await probe(after, "dnsraw", "gateway", "echo", "test");
    expect(answer.addresses).toEqual([]);
    expect(answer.rcode).not.toBe(0);
  });

  it("sandboxes made at once each keep their own list: one start's clean-up never drops another's", async () => {
    const made = await Promise.all(
      [0, 1, 2, 3].map(() =>
        sandfleet.sandboxes.create({
          app: reuseApp,
          image: "sandfleet/python",
          egress: { allow: [`${address("echo")}/32`] },
          timeoutMs: 600_000,
        }),
      ),
    );
    for (const sandbox of made) {
      expect((await probe(sandbox, "connect", address("echo"), "80")).connected, sandbox.id).toBe(true);
    }
    await Promise.all(made.map((sandbox) => sandbox.remove()));
  });

  it("an agent snapshot taken before a sandbox was removed never opens its list to the next one at its address", async () => {
    const before = await sandfleet.sandboxes.create({
      app: staleApp,
      image: "sandfleet/python",
      egress: { allow: [`${address("echo")}/32`] },
      timeoutMs: 600_000,
    });
    const held = await addressOf(before, staleApp);
    // An agent's pass reads the engine while the old sandbox lives, and is slow to deliver.
    const snapshot = await egressSnapshot(docker, staleApp);
    expect(snapshot?.request.policies.some((p) => p.id === before.id)).toBe(true);
    await before.remove();
    const after = await sandfleet.sandboxes.create({
      app: staleApp,
      image: "sandfleet/python",
      egress: { allow: [] },
      timeoutMs: 600_000,
    });
    expect(await addressOf(after, staleApp)).toBe(held);
    expect(await sendEgressSnapshot(docker, snapshot as NonNullable<typeof snapshot>)).toBe(false);
    expect((await probe(after, "connect", address("echo"), "80")).error).toMatch(/ConnectionRefusedError/);
    // A pass of its own, taken now, is current and keeps it so.
    await new Agent({ docker, app: staleApp }).reconcileOnce();
    expect((await probe(after, "connect", address("echo"), "80")).error).toMatch(/ConnectionRefusedError/);
  });

  it("loads lists whose ranges overlap or contain each other, at create, setEgress and an agent pass", async () => {
    const network = internet.network;
    const sandbox = await sandfleet.sandboxes.create({
      app,
      image: "sandfleet/python",
      egress: { allow: [network, `${address("echo")}/32`] },
      timeoutMs: 600_000,
    });
    expect((await probe(sandbox, "connect", address("blocked"), "80")).connected).toBe(true);
    await sandbox.setEgress({ allow: [address("echo"), network, network] });
    expect((await probe(sandbox, "connect", address("echo"), "80")).connected).toBe(true);
    await sandbox.setEgress({ allow: ["0.0.0.0/0", address("named")] });
    expect((await probe(sandbox, "connect", address("named"), "80")).connected).toBe(true);
    await sandbox.setEgress({ allow: [`${address("echo")}/32`] });
    expect((await probe(sandbox, "connect", address("blocked"), "80")).error).toMatch(/ConnectionRefusedError/);
    // Another app's sandbox with an overlapping list; an agent pass (every list at once) loads both.
    const other = await sandfleet.sandboxes.create({
      app: otherApp,
      image: "sandfleet/python",
      egress: { allow: [address("named"), network] },
      timeoutMs: 600_000,
    });
    await sandbox.setEgress({ allow: [network, address("named")] });
    const events = await new Agent({ docker, app: otherApp }).reconcileOnce();
    // (The broken list left by another test of this app is reported, as it should be; nothing else.)
    expect(events.filter((e) => e.action === "error" && e.sandbox !== "broken")).toEqual([]);
    expect((await probe(other, "connect", address("named"), "80")).connected).toBe(true);
    expect((await probe(sandbox, "connect", address("blocked"), "80")).connected).toBe(true);
  });

  it("does not let a name open this host's own networks, documentation or benchmarking ranges", async () => {
    const sandbox = await sandfleet.sandboxes.create({
      app,
      image: "sandfleet/python",
      egress: { allow: ["*.ok.example"] },
      timeoutMs: 600_000,
    });
    const names = ["testnet1", "testnet2", "testnet3", "bench", "relay", "lan", "gateway"];
    for (const name of names) {
      expect((await probe(sandbox, "resolve", `${name}.ok.example`)).error, name).toMatch(/gaierror/);
    }
    const reasons = (await sandbox.egressRefusals()).map((r) => r.reason);
    expect(reasons).toContain(
      `the name resolved to ${lanAddress}, an internal address the egress allowlist does not name`,
    );
    // A CIDR in the list names them: then they open.
    await sandbox.setEgress({ allow: ["*.ok.example", "192.0.2.0/24", `${lanAddress}/32`] });
    expect((await probe(sandbox, "resolve", "testnet1.ok.example")).addresses).toEqual(["192.0.2.10"]);
    expect((await probe(sandbox, "resolve", "lan.ok.example")).addresses).toEqual([lanAddress]);
    // The small internet, declared public, still opens by name.
    expect((await probe(sandbox, "resolve", "y.ok.example")).addresses).toEqual([address("echo")]);
  });
});

/** The engine's own view of the egress daemon's container, for what the port does not carry: its log file and settings. */
async function inspectDaemon(): Promise<{
  LogPath: string;
  HostConfig: { LogConfig: { Config: Record<string, string> } };
}> {
  const { stdout } = await runCommand("docker", ["inspect", "sandfleet-egress"]);
  return (
    JSON.parse(stdout) as [{ LogPath: string; HostConfig: { LogConfig: { Config: Record<string, string> } } }]
  )[0];
}
