import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandfleet } from "../../provider/client/sandfleet.ts";
import { egressNetworkName } from "../../provider/runtime/networks/egress-rules.ts";
import type { Sandbox } from "../../provider/client/sandbox.ts";
import { sandfleet as cli } from "../support/cli.ts";
import { cleanupApp, docker, uniqueApp } from "../support/engine.ts";
import { startFakeInternet } from "../support/fake-internet.ts";

const PROBE = readFileSync(new URL("../fixtures/scripts/egress_probe.py", import.meta.url), "utf8");

interface Probe {
  addresses?: string[];
  connected?: boolean;
  body?: string;
  error?: string;
  ms: number;
}

async function probe(sandbox: Sandbox, ...args: string[]): Promise<Probe> {
  const { stdout } = await sandbox.run(["python3", "-c", PROBE, ...args]);
  return JSON.parse(stdout) as Probe;
}

describe("egress allowlists, against a small internet of the test's own", () => {
  const app = uniqueApp("egress");
  const sandfleet = new Sandfleet({ docker });
  let internet: Awaited<ReturnType<typeof startFakeInternet>>;
  let allowed = "";
  let blocked = "";
  let ranged = "";
  let sandbox: Sandbox;

  beforeAll(async () => {
    internet = await startFakeInternet({
      allowed: ["allowed.test", "api.allowed.test"],
      blocked: ["blocked.test"],
      ranged: ["ranged.test"],
    });
    allowed = internet.hosts.allowed?.address ?? "";
    blocked = internet.hosts.blocked?.address ?? "";
    ranged = internet.hosts.ranged?.address ?? "";
    // The resolver answers the small internet's names (and nothing from outside this machine).
    process.env.SANDFLEET_EGRESS_HOSTS = internet.hostsFile;
    process.env.SANDFLEET_EGRESS_PUBLIC = internet.network;
    sandbox = await sandfleet.sandboxes.create({
      app,
      name: "agent",
      image: "sandfleet/python",
      egress: { allow: ["allowed.test", "*.allowed.test", `${ranged}/32`] },
      timeoutMs: 600_000,
    });
  }, 720_000);
  afterAll(async () => {
    await cleanupApp(app);
    await internet.stop();
    delete process.env.SANDFLEET_EGRESS_HOSTS;
    delete process.env.SANDFLEET_EGRESS_PUBLIC;
  });

  it("reaches an allowed domain over HTTP and HTTPS, and a wildcard's names", async () => {
    expect((await probe(sandbox, "http", "http://allowed.test/")).body).toBe(`reached ${allowed} host=allowed.test\n`);
    expect((await probe(sandbox, "https", allowed, "allowed.test", "allowed.test")).body).toBe(
      `reached ${allowed} host=allowed.test\n`,
    );
    expect((await probe(sandbox, "resolve", "api.allowed.test")).addresses).toEqual([allowed]);
  });

  it("gives no answer for a blocked name, and refuses its address at once", async () => {
    expect((await probe(sandbox, "resolve", "blocked.test")).error).toMatch(/gaierror/);
    const direct = await probe(sandbox, "connect", blocked, "80");
    expect(direct.error).toMatch(/ConnectionRefusedError/);
    expect(direct.ms).toBeLessThan(1000);
  });

  it("refuses a connection to a blocked address that names an allowed host in SNI and Host", async () => {
    const sneaky = await probe(sandbox, "https", blocked, "allowed.test", "allowed.test");
    expect(sneaky.error).toMatch(/ConnectionRefusedError/);
    expect(sneaky.ms).toBeLessThan(1000);
  });

  it("lets a CIDR through without any name", async () => {
    expect((await probe(sandbox, "connect", ranged, "443")).connected).toBe(true);
  });

  it("changes the list on the live sandbox: same container, same PID 1", async () => {
    const before = { id: sandbox.id, pid1: (await sandbox.run(["cat", "/proc/1/stat"])).stdout.split(" ")[21] };
    await sandbox.setEgress({ allow: ["allowed.test", "blocked.test"] });
    expect((await probe(sandbox, "http", "http://blocked.test/")).body).toBe(`reached ${blocked} host=blocked.test\n`);
    expect((await probe(sandbox, "resolve", "api.allowed.test")).error).toMatch(/gaierror/);
    expect((await probe(sandbox, "connect", ranged, "443")).error).toMatch(/ConnectionRefusedError/);
    await sandbox.setEgress({ allow: ["allowed.test"] });
    // A name taken off the list takes the addresses it resolved to with it.
    expect((await probe(sandbox, "connect", blocked, "80")).error).toMatch(/ConnectionRefusedError/);
    const after = {
      id: (await sandbox.state()).id,
      pid1: (await sandbox.run(["cat", "/proc/1/stat"])).stdout.split(" ")[21],
    };
    expect(after).toEqual(before);
    await sandbox.setEgress({ allow: ["allowed.test", "*.allowed.test", `${ranged}/32`] });
  });

  it("logs each refusal, of a name or an address, with the sandbox, the destination and the reason", async () => {
    await probe(sandbox, "resolve", "never.test");
    await probe(sandbox, "connect", blocked, "8443");
    const logs = await cli(["logs", sandbox.id]);
    expect(logs.stderr).toContain("sandfleet egress: refused never.test: the name is not in the egress allowlist");
    expect(logs.stderr).toContain(
      `sandfleet egress: refused ${blocked}:8443 (tcp): the address is not in the egress allowlist`,
    );
    // Another sandbox's refusals are its own.
    const other = await sandfleet.sandboxes.create({ app, image: "sandfleet/python", egress: { allow: [] } });
    expect(await other.egressRefusals()).toEqual([]);
  });

  it("leaves a sandbox without a policy with no network at all", async () => {
    const plain = await sandfleet.sandboxes.create({ app, image: "sandfleet/python" });
    expect((await probe(plain, "connect", allowed, "80")).error).toMatch(/OSError|unreachable/i);
    expect((await probe(plain, "resolve", "allowed.test")).error).toMatch(/gaierror/);
  });

  it("refuses what it cannot enforce, before anything is made", async () => {
    await expect(
      sandfleet.sandboxes.create({ app, image: "sandfleet/python", egress: { allow: ["https://pypi.org/simple"] } }),
    ).rejects.toThrow(/egress\.allow\[0\] "https:\/\/pypi\.org\/simple" is not a domain/);
    await expect(sandbox.setEgress({ allow: ["::1"] })).rejects.toThrow(/egress\.allow\[0\]/);
  });
  it("gc removes an egress network no sandbox is on any more", async () => {
    const made = await sandfleet.sandboxes.create({ app, image: "sandfleet/python", egress: { allow: [] } });
    await sandfleet.gc({ app });
    expect(await docker.networks.inspect(egressNetworkName(app))).toBeDefined(); // still in use
    for (const s of await sandfleet.sandboxes.list({ app })) await (await sandfleet.sandboxes.fromId(s.id)).remove();
    await made.remove();
    await sandfleet.gc({ app });
    expect(await docker.networks.inspect(egressNetworkName(app))).toBeUndefined();
  });
});
