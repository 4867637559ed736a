import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandfleet } from "../../provider/client/sandfleet.ts";
import { connectDocker } from "../../provider/engines/docker/client.ts";
import { ConflictError } from "../../provider/errors.ts";
import { LABEL, ownershipLabels } from "../../provider/runtime/engine-state/labels.ts";
import { appNetworkName } from "../../provider/runtime/engine-state/names.ts";
import type { Sandbox } from "../../provider/client/sandbox.ts";
import { cleanupApp, docker, uniqueApp } from "../support/engine.ts";
import { fakeSsh } from "../support/fake-ssh.ts";
import { deleteTable, tablesOf } from "../support/host-tables.ts";
import { until } from "../support/until.ts";
import { hostAddresses, startHostListeners, startTestHosts, type Arrival } from "../support/test-hosts.ts";

// What a process inside a sandbox on an app network can reach, tried from
// inside real sandboxes against listeners on the engine's host and against
// hosts of the test's own in network namespaces (nothing leaves the machine).

const PROBE = readFileSync(new URL("../fixtures/scripts/reach_probe.py", import.meta.url), "utf8");
const SERVER = readFileSync(new URL("../fixtures/scripts/test_host.py", import.meta.url), "utf8");
/** Where sandboxes and test hosts listen. */
const PORT = 7070;

interface Target {
  proto: "tcp" | "udp" | "icmp";
  host: string;
  port?: number;
}

/** Each target's outcome, by "proto host:port": "reached: ...", "refused: ...", "timeout" or "error: ...". */
async function tryToReach(sandbox: Sandbox, targets: Target[]): Promise<Record<string, string>> {
  const { stdout } = await sandbox.run(["python3", "-c", PROBE, JSON.stringify(targets)]);
  const outcomes = JSON.parse(stdout) as string[];
  return Object.fromEntries(targets.map((t, i) => [`${t.proto} ${t.host}:${String(t.port ?? "")}`, outcomes[i] ?? ""]));
}

/** The outcomes that got through: an empty object when nothing did. */
function reached(outcomes: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(outcomes).filter(([, o]) => o.startsWith("reached")));
}

/** TCP, UDP and ICMP to one address. */
function everyProtocol(host: string, ports: { tcp: number; udp: number }): Target[] {
  return [
    { proto: "tcp", host, port: ports.tcp },
    { proto: "udp", host, port: ports.udp },
    { proto: "icmp", host },
  ];
}

async function addressOf(sandbox: Sandbox, app: string): Promise<string> {
  const address = (await sandbox.state()).container.addresses[appNetworkName(app)];
  if (!address) throw new Error(`sandbox ${sandbox.id} has no address on ${appNetworkName(app)}`);
  return address;
}

function from(arrivals: Arrival[], peer: string): Arrival[] {
  return arrivals.filter((a) => a.peer === peer || a.peer === `::ffff:${peer}`);
}

describe("app networks reach what they say, and no more", () => {
  const sandfleet = new Sandfleet({ docker });
  const local = uniqueApp("net-local"); // network: app, no internet
  const open = uniqueApp("net-open"); // network: app, internet: true
  let hosts: Awaited<ReturnType<typeof startTestHosts>>;
  let listeners: Awaited<ReturnType<typeof startHostListeners>>;
  let gateways: { local: string; open: string };
  let broadcasts: string[];
  let bridges: string[];
  let sandboxes: { local: Sandbox; localPeer: Sandbox; open: Sandbox; openPeer: Sandbox };
  let ips: { local: string; localPeer: string; open: string; openPeer: string };

  beforeAll(async () => {
    hosts = await startTestHosts(PORT);
    const localNet = await sandfleet.apps.lookup(local, { createIfMissing: true });
    const openNet = await sandfleet.apps.lookup(open, { createIfMissing: true, internet: true });
    const [localInfo, openInfo] = await Promise.all([localNet, openNet].map((n) => docker.networks.inspect(n.network)));
    gateways = { local: localInfo?.gateway ?? "", open: openInfo?.gateway ?? "" };
    broadcasts = [localInfo?.subnet ?? "", openInfo?.subnet ?? ""].map(broadcastOf);
    bridges = [localInfo?.bridge ?? "", openInfo?.bridge ?? ""];
    listeners = await startHostListeners([gateways.local, gateways.open]);
    const make = (app: string, name: string, server: boolean) =>
      sandfleet.sandboxes.create({
        app,
        name,
        image: "sandfleet/python",
        network: "app",
        timeoutMs: 600_000,
        ...(server ? { command: ["python3", "-c", SERVER, String(PORT)], ports: [PORT] } : {}),
      });
    const [l, lp, o, op] = await Promise.all([
      make(local, "probe", false),
      make(local, "peer", true),
      make(open, "probe", false),
      make(open, "peer", true),
    ]);
    sandboxes = { local: l, localPeer: lp, open: o, openPeer: op };
    ips = {
      local: await addressOf(l, local),
      localPeer: await addressOf(lp, local),
      open: await addressOf(o, open),
      openPeer: await addressOf(op, open),
    };
  }, 180_000);

  afterAll(async () => {
    await Promise.all([cleanupApp(local), cleanupApp(open)]);
    await listeners.stop();
    await hosts.stop();
  });

  /** Every address of the engine's host a sandbox could aim at, with each protocol. */
  async function hostTargets(): Promise<{ targets: Target[]; names: string[] }> {
    // The two apps' own bridges (IPv6 link-local addresses included) and the test hosts' links stay
    // for the whole file.
    const ours = new Set([gateways.local, gateways.open, hosts.outside.hostSide, hosts.bridged.hostSide]);
    const addresses = await hostAddresses((name, address) => ours.has(address) || bridges.includes(name));
    const targets: Target[] = [];
    for (const { address } of addresses) {
      if (address.includes(":")) targets.push({ proto: "tcp", host: address, port: listeners.ports.tcp6Any });
      else targets.push(...everyProtocol(address, { tcp: listeners.ports.tcpAny, udp: listeners.ports.udpAny }));
    }
    for (const [address, port] of Object.entries(listeners.ports.tcpBound)) {
      targets.push({ proto: "tcp", host: address, port });
    }
    // Broadcasts reach the host as well as the bridge.
    for (const address of [...broadcasts, "255.255.255.255"]) {
      targets.push({ proto: "udp", host: address, port: listeners.ports.udpAny });
    }
    return { targets, names: addresses.map((a) => a.name) };
  }

  it("a sandbox without internet reaches no address of the host: the gateways, docker0, every other, by TCP, UDP, ICMP or IPv6", async () => {
    const { targets, names } = await hostTargets();
    // The attack covers the addresses that answered before: the gateway, docker0's, the host's own.
    expect(names).toEqual(expect.arrayContaining(["docker0", "eth0"]));
    expect(targets.map((t) => t.host)).toEqual(
      expect.arrayContaining([gateways.local, gateways.open, hosts.outside.hostSide, hosts.bridged.hostSide]),
    );
    const outcomes = await tryToReach(sandboxes.local, targets);
    expect(reached(outcomes)).toEqual({});
    expect(from(listeners.arrivals, ips.local)).toEqual([]);
  });

  it("a sandbox without internet reaches nothing outside: a host beyond a route, a link-local address and a host bridge's neighbour see nothing", async () => {
    const ports = { tcp: PORT, udp: PORT };
    const outcomes = await tryToReach(sandboxes.local, [
      ...everyProtocol(hosts.outside.address, ports),
      ...everyProtocol(hosts.outside.linkLocal, ports),
      ...everyProtocol(hosts.bridged.address, ports),
    ]);
    expect(reached(outcomes)).toEqual({});
    // TCP is refused at once, not left to time out. (ICMP errors, which refuse the rest, are
    // rate-limited by the kernel per sandbox: after a burst, a datagram may just go unanswered.)
    expect(outcomes[`tcp ${hosts.outside.address}:${String(PORT)}`]).toMatch(/^refused/);
    expect(from(hosts.outside.arrivals, ips.local)).toEqual([]);
    expect(from(hosts.bridged.arrivals, ips.local)).toEqual([]);
    expect(hosts.outside.arrivals.filter((a) => a.to === hosts.outside.linkLocal)).toEqual([]);
  });

  it("a sandbox reaches no sandbox of another app, in either direction, by address or by name; TCP is refused at once", async () => {
    const ports = { tcp: PORT, udp: PORT };
    const fromLocal = await tryToReach(sandboxes.local, [
      ...everyProtocol(ips.openPeer, ports),
      { proto: "tcp", host: (await sandboxes.openPeer.state()).containerName, port: PORT },
    ]);
    const fromOpen = await tryToReach(sandboxes.open, everyProtocol(ips.localPeer, ports));
    expect(reached(fromLocal)).toEqual({});
    expect(reached(fromOpen)).toEqual({});
    for (const outcomes of [fromLocal, fromOpen]) expect(Object.values(outcomes)[0]).toMatch(/^refused/);
  });

  it("with internet, reaches the outside through NAT: the test host sees the host's address, never the sandbox's", async () => {
    const before = hosts.outside.arrivals.length;
    const outcomes = await tryToReach(sandboxes.open, everyProtocol(hosts.outside.address, { tcp: PORT, udp: PORT }));
    expect(Object.values(outcomes)).toEqual([
      `reached: seen ${hosts.outside.hostSide}`,
      `reached: seen ${hosts.outside.hostSide}`,
      "reached: echo reply",
    ]);
    // The test host reports each arrival on its own stream: wait until all three are told.
    const arrived = () => hosts.outside.arrivals.slice(before).filter((a) => a.to === hosts.outside.address);
    await until("the test host to report TCP, UDP and ICMP", async () =>
      ["icmp", "tcp", "udp"].every((proto) => arrived().some((a) => a.proto === proto)),
    );
    expect(arrived().filter((a) => a.peer !== hosts.outside.hostSide)).toEqual([]);
    expect(from(hosts.outside.arrivals, ips.open)).toEqual([]);
  });

  it("with internet, still reaches no address of the host, no host bridge and no link-local address", async () => {
    const ports = { tcp: PORT, udp: PORT };
    const outcomes = await tryToReach(sandboxes.open, [
      ...(await hostTargets()).targets,
      ...everyProtocol(hosts.outside.linkLocal, ports),
      ...everyProtocol(hosts.bridged.address, ports),
    ]);
    expect(reached(outcomes)).toEqual({});
    expect(from(listeners.arrivals, ips.open)).toEqual([]);
    expect(hosts.outside.arrivals.filter((a) => a.to === hosts.outside.linkLocal)).toEqual([]);
    expect(hosts.bridged.arrivals).toEqual([]);
  });

  it("still reaches its own app's sandboxes, by address and by name, and ports published on 127.0.0.1 and the host's own connections still work", async () => {
    for (const [probe, peer, peerIp, probeIp] of [
      [sandboxes.local, sandboxes.localPeer, ips.localPeer, ips.local],
      [sandboxes.open, sandboxes.openPeer, ips.openPeer, ips.open],
    ] as const) {
      const name = (await peer.state()).containerName;
      const outcomes = await tryToReach(probe, [
        ...everyProtocol(peerIp, { tcp: PORT, udp: PORT }),
        { proto: "tcp", host: name, port: PORT },
      ]);
      expect(Object.values(outcomes)).toEqual([
        `reached: seen ${probeIp}`,
        `reached: seen ${probeIp}`,
        "reached: echo reply",
        `reached: seen ${probeIp}`,
      ]);
      const [tunnel] = await peer.tunnels();
      expect(await readLine("127.0.0.1", tunnel?.hostPort ?? 0)).toMatch(/^seen /);
      expect(await readLine(peerIp, PORT)).toMatch(/^seen /);
    }
  });
});

describe("the guard after the host lost it", () => {
  // A client of its own, which has confirmed nothing yet, as a process started after a restart.
  const sandfleet = new Sandfleet({ docker: connectDocker() });
  const app = uniqueApp("net-restart");
  let listeners: Awaited<ReturnType<typeof startHostListeners>> | undefined;
  afterAll(async () => {
    await cleanupApp(app);
    await listeners?.stop();
  });

  it("is in force from the first packet of the next sandbox after the host lost its table (as after a host restart)", async () => {
    const network = await sandfleet.apps.lookup(app, { createIfMissing: true });
    const gateway = (await docker.networks.inspect(network.network))?.gateway ?? "";
    listeners = await startHostListeners([gateway]);
    // What a host restart leaves: no table in the kernel. (The daemon keeps running: other
    // tests use it meanwhile. A restarted daemon places the table before it answers.)
    await deleteTable((await tablesOf(docker)).guard);
    // The sandbox's own command tries the host at once: its first packets.
    const sandbox = await sandfleet.sandboxes.create({
      app,
      image: "sandfleet/python",
      network: "app",
      command: [
        "python3",
        "-c",
        PROBE,
        JSON.stringify([
          { proto: "tcp", host: gateway, port: listeners.ports.tcpAny },
          { proto: "tcp", host: gateway, port: listeners.ports.tcpBound[gateway] },
          { proto: "udp", host: gateway, port: listeners.ports.udpAny },
        ]),
      ],
    });
    await sandbox.wait();
    const { stdout, stderr } = await sandbox.logs();
    stderr.resume();
    let text = "";
    for await (const chunk of stdout) text += (chunk as Buffer).toString();
    const outcomes = JSON.parse(text) as string[];
    expect(outcomes.filter((o) => o.startsWith("reached"))).toEqual([]);
    expect(outcomes[0]).toMatch(/^refused/);
    expect(listeners.arrivals).toEqual([]);
  });
});

describe("an engine at an ssh:// address", () => {
  const app = uniqueApp("net-ssh");
  const ssh = fakeSsh();
  let listeners: Awaited<ReturnType<typeof startHostListeners>> | undefined;
  afterAll(async () => {
    await cleanupApp(app);
    await listeners?.stop();
    delete process.env.SANDFLEET_SSH;
  });

  it("gets its guard on the engine's host through the engine alone: ssh runs nothing but the engine's dial-stdio", async () => {
    process.env.SANDFLEET_SSH = ssh.path;
    const remote = new Sandfleet({ dockerHost: "ssh://ops@engine-host" });
    const network = await remote.apps.lookup(app, { createIfMissing: true });
    const gateway = (await docker.networks.inspect(network.network))?.gateway ?? "";
    listeners = await startHostListeners([gateway]);
    // No table on the engine's host: whatever guards the sandbox came through the engine.
    await deleteTable((await tablesOf(docker)).guard);
    const sandbox = await remote.sandboxes.create({ app, image: "sandfleet/python", network: "app" });
    const outcomes = await tryToReach(sandbox, [
      ...everyProtocol(gateway, { tcp: listeners.ports.tcpAny, udp: listeners.ports.udpAny }),
      { proto: "tcp", host: gateway, port: listeners.ports.tcpBound[gateway] ?? 0 },
    ]);
    expect(reached(outcomes)).toEqual({});
    expect(listeners.arrivals).toEqual([]);
    expect(new Set(ssh.calls())).toEqual(new Set(["-o BatchMode=yes -- ops@engine-host docker system dial-stdio"]));
  });
});

describe("network: none", () => {
  const sandfleet = new Sandfleet({ docker });
  const app = uniqueApp("net-none");
  afterAll(() => cleanupApp(app));

  it("has loopback only: no interface but lo, and every address of the host and beyond is unreachable", async () => {
    const sandbox = await sandfleet.sandboxes.create({ app, image: "sandfleet/python", timeoutMs: 300_000 });
    const interfaces = (await sandbox.run(["ls", "/sys/class/net"])).stdout.split(/\s+/).filter(Boolean);
    expect(interfaces).toEqual(["lo"]);
    const targets = (await hostAddresses())
      .filter((a) => !a.address.includes(":"))
      .flatMap((a) => everyProtocol(a.address, { tcp: PORT, udp: PORT }));
    const outcomes = await tryToReach(sandbox, targets);
    expect(targets.length).toBeGreaterThan(0);
    for (const outcome of Object.values(outcomes)) expect(outcome).toBe("refused: ENETUNREACH");
  });
});

describe("a network the guard does not keep", () => {
  const sandfleet = new Sandfleet({ docker });
  const app = uniqueApp("net-legacy");
  afterAll(() => cleanupApp(app));

  it("starts no sandbox on an app network made without the guard's bridge name (by hand, or by an older sandfleet)", async () => {
    await docker.networks.create({
      name: appNetworkName(app),
      internal: false,
      masquerade: false,
      labels: ownershipLabels(app, "network"),
    });
    const made = sandfleet.sandboxes.create({ app, image: "sandfleet/python", network: "app" });
    await expect(made).rejects.toThrow(ConflictError);
    await expect(made).rejects.toThrow(/which the engine host's guard does not keep/);
    expect(await docker.containers.list({ [LABEL.app]: app, [LABEL.kind]: "sandbox" })).toEqual([]);
  });
});

/** The broadcast address of an IPv4 subnet ("172.18.0.0/16" -> "172.18.255.255"). */
function broadcastOf(subnet: string): string {
  const [address = "", bits = "32"] = subnet.split("/");
  const value = address.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
  const hostBits = 32 - Number(bits);
  const broadcast = (Math.floor(value / 2 ** hostBits) + 1) * 2 ** hostBits - 1;
  return [24, 16, 8, 0].map((shift) => String(Math.floor(broadcast / 2 ** shift) % 256)).join(".");
}

/** Connects from the engine's host and returns the first line the other side sends. */
function readLine(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port }, () => undefined);
    let data = "";
    socket.setTimeout(10_000, () => {
      socket.destroy(new Error(`no answer from ${host}:${String(port)}`));
    });
    socket.on("data", (chunk: Buffer) => (data += chunk.toString()));
    socket.on("end", () => {
      resolve(data.split("\n")[0] ?? "");
    });
    socket.on("error", reject);
  });
}
