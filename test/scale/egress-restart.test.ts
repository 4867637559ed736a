// The egress daemon's engine-restart drill, on a disposable engine beside the main one. Alone on
// the machine (npm run test:scale): the disposable engine hands out networks from Docker's default
// pools, as the main engine does, and a network the main engine makes meanwhile for another test
// can take the same addresses, which the daemons (on the host's network) cannot both listen on.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Sandbox } from "../../provider/client/sandbox.ts";
import { cleanupApp, docker, uniqueApp } from "../support/engine.ts";
import { DisposableEngine } from "../support/disposable-engine.ts";
import { until } from "../support/until.ts";
import { Sandfleet } from "../../provider/client/sandfleet.ts";
import { askDaemon, DAEMON, ensureEgressNetwork, guardEgressNetworks } from "../../provider/runtime/networks/egress.ts";
import { listTable, tablesOf } from "../support/host-tables.ts";
import { machineLock } from "../support/machine-lock.ts";
import { mustRun, runCommand } from "../support/run.ts";
import { startHostListeners, startTestHosts } from "../support/test-hosts.ts";

const PROBE = readFileSync(new URL("../fixtures/scripts/reach_probe.py", import.meta.url), "utf8");

/** What became of each target, in order: "reached: ...", "refused: ...", "timeout" or "error: ...". */
async function tryToReach(sandbox: Sandbox, targets: { proto: "tcp" | "udp"; host: string; port: number }[]) {
  const { stdout } = await sandbox.run(["python3", "-c", PROBE, JSON.stringify(targets)], { check: true });
  return JSON.parse(stdout) as string[];
}

describe("the egress daemon after its engine restarts", () => {
  const PORT = 7071;
  const sandfleet = new Sandfleet({ docker });
  const mainApp = uniqueApp("restart-main");
  const app = uniqueApp("restart-egress");
  let engine: DisposableEngine | undefined;
  let testHosts: Awaited<ReturnType<typeof startTestHosts>> | undefined;
  let listeners: Awaited<ReturnType<typeof startHostListeners>> | undefined;
  const accepted: string[][] = [];
  const dirs: string[] = [];
  afterAll(async () => {
    for (const hook of ["SANDFLEET_EGRESS_HOSTS", "SANDFLEET_EGRESS_PUBLIC", "SANDFLEET_EGRESS_UPSTREAM"]) {
      Reflect.deleteProperty(process.env, hook);
    }
    for (const rule of accepted) await runCommand("iptables", ["-D", ...rule]);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    await engine?.dispose();
    await testHosts?.stop();
    await listeners?.stop();
    await cleanupApp(mainApp);
  }, 300_000);

  /** A hosts file the daemon answers from, under a directory of its own that the test removes. */
  function hostsFile(lines: string): string {
    const dir = mkdtempSync(join(tmpdir(), "sandfleet-egress-hosts-"));
    dirs.push(dir);
    const file = join(dir, "hosts");
    writeFileSync(file, lines);
    return file;
  }

  /** Whether a sandbox got anything back from the host's listeners, by TCP or UDP at `gateway`. */
  async function reachesHost(sandbox: Sandbox, gateway: string): Promise<string[]> {
    const ports = listeners?.ports ?? { tcpAny: 0, udpAny: 0 };
    const outcomes = await tryToReach(sandbox, [
      { proto: "tcp", host: gateway, port: ports.tcpAny },
      { proto: "udp", host: gateway, port: ports.udpAny },
    ]);
    return outcomes.filter((o) => o.startsWith("reached"));
  }

  it("comes back by itself, the client's configuration then holds, and the main engine's daemon and tables are untouched", async () => {
    // The main engine's daemon must stay as it is while this runs: the egress tests' small internet
    // replaces it with its own hosts file, so this waits for that to be done, as they wait for each other.
    const release = await machineLock("fake-internet", 600_000);
    try {
      // The main engine: this version's daemon, its tables, and a network: app sandbox it guards.
      await guardEgressNetworks(docker);
      const mainNetwork = await sandfleet.apps.lookup(mainApp, { createIfMissing: true });
      const mainGateway = (await docker.networks.inspect(mainNetwork.network))?.gateway ?? "";
      listeners = await startHostListeners([]);
      const mainSandbox = await sandfleet.sandboxes.create({ app: mainApp, image: "sandfleet/python", network: "app" });
      expect(await reachesHost(mainSandbox, mainGateway)).toEqual([]);
      const mainTables = await tablesOf(docker);
      const mainDaemon = await docker.containers.inspect(DAEMON);
      // The host's docker0 (the machine engine's bridge), by interface index: deleted and made
      // again, it would differ.
      const docker0 = () =>
        existsSync("/sys/class/net/docker0") ? readFileSync("/sys/class/net/docker0/ifindex", "utf8") : "absent";
      const docker0Before = docker0();
      const mainGuard = await listTable(mainTables.guard);
      expect(mainGuard).toBeDefined();
      expect(await listTable(mainTables.egress)).toBeDefined();

      // A second engine on this host, its daemon placed with a hosts file under a temporary directory.
      // Its networks from a pool of its own: the main engine's networks (this run's, or another's
      // left behind) hold Docker's default pools, and its daemon listens on its networks' gateways.
      engine = await DisposableEngine.start(["sandfleet/busybox", "sandfleet/python"], {
        "default-address-pools": [{ base: "10.226.0.0/16", size: 24 }],
      });
      const remote = new Sandfleet({ dockerHost: engine.host });
      testHosts = await startTestHosts(PORT);
      const { outside, bridged } = testHosts;
      process.env.SANDFLEET_EGRESS_HOSTS = hostsFile(`${outside.address} one.test\n`);
      process.env.SANDFLEET_EGRESS_PUBLIC = `${outside.address}/32`;
      process.env.SANDFLEET_EGRESS_UPSTREAM = "127.0.0.1:9"; // no name leaves the machine
      // That engine makes no iptables rules, and this host's forward policy is the main engine's
      // DROP: its egress network is let through the host's own filter, so that only the egress
      // daemon's table decides what a sandbox there reaches.
      const { name: egressNet } = await ensureEgressNetwork(engine.docker, app);
      const bridge = (await engine.docker.networks.inspect(egressNet))?.bridge ?? "";
      expect(bridge).not.toBe("");
      for (const rule of [
        ["DOCKER-USER", "-i", bridge, "-j", "ACCEPT"],
        ["DOCKER-USER", "-o", bridge, "-j", "ACCEPT"],
      ]) {
        await mustRun("iptables", ["-I", ...rule]);
        accepted.push(rule);
      }
      const first = await remote.sandboxes.create({ app, image: "sandfleet/python", egress: { allow: ["one.test"] } });
      const before = await tryToReach(first, [
        { proto: "tcp", host: "one.test", port: PORT },
        { proto: "tcp", host: bridged.address, port: PORT },
      ]);
      expect(before[0]).toMatch(/^reached/);
      expect(before[1]).toMatch(/^refused/);
      const tables = await engine.tables();
      expect(tables.guard).not.toBe(mainTables.guard);
      expect(await listTable(tables.guard)).toBeDefined();
      expect(await listTable(tables.egress)).toBeDefined();
      // The second engine's daemon replaced nothing of the main engine's.
      expect(await listTable(mainTables.guard)).toBe(mainGuard);
      expect(await listTable(mainTables.egress)).toBeDefined();

      // An app network, made before the restart (networks made after it would come from Docker's
      // default pools, which the main engine's networks hold: see DisposableEngine.startDaemon).
      const appNetwork = await remote.apps.lookup(app, { createIfMissing: true });

      // The engine restarts; meanwhile the hosts file it was placed with is gone.
      await engine.stopDaemon();
      for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
      await engine.startDaemon();
      const restarted = engine.docker;
      await until("the daemon is back by itself", async () => {
        const daemon = await restarted.containers.inspect(DAEMON);
        return daemon?.running === true && (await askDaemon(restarted, { op: "guard" }, true)) === undefined;
      });

      // The client's configuration now: another hosts file, another name for the same host.
      process.env.SANDFLEET_EGRESS_HOSTS = hostsFile(`${outside.address} two.test\n`);
      const second = await remote.sandboxes.create({
        app,
        image: "sandfleet/python",
        egress: { allow: ["one.test", "two.test"] },
      });
      const after = await tryToReach(second, [
        { proto: "tcp", host: "two.test", port: PORT },
        { proto: "tcp", host: "one.test", port: PORT },
        { proto: "tcp", host: bridged.address, port: PORT },
      ]);
      expect(after[0]).toMatch(/^reached/);
      expect(after[1]).not.toMatch(/^reached/); // a name of the old configuration only
      expect(after[2]).toMatch(/^refused/);
      // A network: app sandbox of the restarted engine still reaches nothing of the host.
      const gateway = (await engine.docker.networks.inspect(appNetwork.network))?.gateway ?? "";
      const local = await remote.sandboxes.create({ app, image: "sandfleet/python", network: "app" });
      expect(await reachesHost(local, gateway)).toEqual([]);

      // The main engine's daemon, its guard and its sandbox: as they were.
      const mainNow = await docker.containers.inspect(DAEMON);
      expect({ id: mainNow?.id, startedAt: mainNow?.startedAt }).toEqual({
        id: mainDaemon?.id,
        startedAt: mainDaemon?.startedAt,
      });
      expect(await listTable(mainTables.guard)).toBe(mainGuard);
      expect(await listTable(mainTables.egress)).toBeDefined();
      expect(await reachesHost(mainSandbox, mainGateway)).toEqual([]);
      expect(listeners.arrivals).toEqual([]);
      expect(docker0()).toBe(docker0Before);
    } finally {
      release();
    }
  }, 1_200_000);
});
