// Attacks on egress allowlists from inside a sandbox (SECURITY.md, section 1),
// against a small internet of the test's own: hosts and a DNS server in a
// network namespace on this machine.
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandfleet } from "../../provider/client/sandfleet.ts";
import { Agent } from "../../provider/runtime/agent.ts";
import { LABEL } from "../../provider/runtime/labels.ts";
import { writeRecord } from "../../provider/runtime/sandbox-records.ts";
import type { Sandbox } from "../../provider/runtime/sandbox.ts";
import { sandfleet as cli } from "../support/cli.ts";
import { cleanupApp, docker, uniqueApp } from "../support/engine.ts";
import { startFakeInternet } from "../support/fake-internet.ts";
import { runCommand } from "../support/run.ts";
import { until } from "../support/until.ts";

const PROBE = readFileSync(new URL("../fixtures/scripts/egress_probe.py", import.meta.url), "utf8");

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
  const sandfleet = new Sandfleet({ docker });
  let internet: Awaited<ReturnType<typeof startFakeInternet>>;
  const address = (key: string) => internet.hosts[key]?.address ?? "";

  beforeAll(async () => {
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
        }),
      },
    );
    process.env.SANDFLEET_EGRESS_HOSTS = internet.hostsFile;
    process.env.SANDFLEET_EGRESS_UPSTREAM = `${internet.dns?.address ?? ""}:53`;
  }, 120_000);
  afterAll(async () => {
    try {
      // A network whose last sandbox is still leaving refuses to go for a moment.
      await until("the apps are cleaned up", async () => {
        try {
          await cleanupApp(app);
          await cleanupApp(otherApp);
          return true;
        } catch {
          return false;
        }
      });
    } finally {
      await internet.stop();
      delete process.env.SANDFLEET_EGRESS_HOSTS;
      delete process.env.SANDFLEET_EGRESS_UPSTREAM;
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
