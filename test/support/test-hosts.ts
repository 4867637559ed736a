import { spawn, type ChildProcess } from "node:child_process";
import { createSocket } from "node:dgram";
import { createServer, type AddressInfo, type Server } from "node:net";
import { createInterface } from "node:readline";
import { runCommand } from "./run.ts";

const HOST_SCRIPT = new URL("../fixtures/scripts/test_host.py", import.meta.url).pathname;

/** Something that reached a listener: by which protocol, from which address, to which of its addresses. */
export interface Arrival {
  proto: "tcp" | "udp" | "icmp";
  peer: string;
  to: string;
}

/** A host of the test's own, in a network namespace: where it is, and what reached it so far. */
export interface TestHost {
  address: string;
  arrivals: Arrival[];
}

/**
 * Hosts outside the engine's host, on this machine only, each in a network
 * namespace of its own answering TCP and UDP on `port` ("seen <peer>") and
 * ICMP echo, and recording every arrival:
 *
 * - `outside`: behind a veth pair with a route, as the internet would be
 *   (198.19.N.10), with a second, link-local address (169.254.N.10) routed
 *   the same way, as a cloud's metadata address would be;
 * - `bridged`: behind a Linux bridge of the host (198.19.N+1.10), as another
 *   local network would be.
 *
 * Nothing leaves the machine.
 */
export async function startTestHosts(port: number): Promise<{
  outside: TestHost & { linkLocal: string; hostSide: string };
  bridged: TestHost & { hostSide: string };
  stop: () => Promise<void>;
}> {
  const id = 20 + 2 * Math.floor(Math.random() * 100);
  const ip = async (...args: string[]) => {
    const result = await runCommand("ip", args);
    if (result.code !== 0) throw new Error(`ip ${args.join(" ")}: ${result.stderr}`);
  };
  const inNs = (ns: string, ...args: string[]) => ip("netns", "exec", ns, "ip", ...args);
  const names = {
    outsideNs: `sfto${String(id)}`,
    outsideLink: `sftv${String(id)}`,
    bridgedNs: `sftb${String(id)}`,
    bridge: `sftbr${String(id)}`,
    bridgedLink: `sftp${String(id)}`,
  };
  const outsideNet = `198.19.${String(id)}`;
  const bridgedNet = `198.19.${String(id + 1)}`;
  const linkLocal = `169.254.${String(id)}.10`;
  const children: ChildProcess[] = [];
  const stop = async () => {
    for (const child of children) child.kill("SIGKILL");
    await runCommand("ip", ["link", "del", names.outsideLink]);
    await runCommand("ip", ["link", "del", names.bridgedLink]);
    await runCommand("ip", ["link", "del", names.bridge]);
    await runCommand("ip", ["netns", "del", names.outsideNs]);
    await runCommand("ip", ["netns", "del", names.bridgedNs]);
  };
  try {
    // The outside: a veth pair and routes.
    await ip("netns", "add", names.outsideNs);
    await ip("link", "add", names.outsideLink, "type", "veth", "peer", "name", `${names.outsideLink}i`);
    await ip("link", "set", `${names.outsideLink}i`, "netns", names.outsideNs);
    await ip("addr", "add", `${outsideNet}.1/24`, "dev", names.outsideLink);
    await ip("link", "set", names.outsideLink, "up");
    await ip("route", "add", `${linkLocal}/32`, "dev", names.outsideLink);
    await inNs(names.outsideNs, "addr", "add", `${outsideNet}.10/24`, "dev", `${names.outsideLink}i`);
    await inNs(names.outsideNs, "addr", "add", `${linkLocal}/32`, "dev", `${names.outsideLink}i`);
    await inNs(names.outsideNs, "link", "set", `${names.outsideLink}i`, "up");
    await inNs(names.outsideNs, "link", "set", "lo", "up");
    await inNs(names.outsideNs, "route", "add", "default", "via", `${outsideNet}.1`);
    // Another local network: a bridge of the host, one port leading to the host.
    await ip("netns", "add", names.bridgedNs);
    await ip("link", "add", names.bridge, "type", "bridge");
    await ip("addr", "add", `${bridgedNet}.1/24`, "dev", names.bridge);
    await ip("link", "set", names.bridge, "up");
    await ip("link", "add", names.bridgedLink, "type", "veth", "peer", "name", `${names.bridgedLink}i`);
    await ip("link", "set", names.bridgedLink, "master", names.bridge);
    await ip("link", "set", names.bridgedLink, "up");
    await ip("link", "set", `${names.bridgedLink}i`, "netns", names.bridgedNs);
    await inNs(names.bridgedNs, "addr", "add", `${bridgedNet}.10/24`, "dev", `${names.bridgedLink}i`);
    await inNs(names.bridgedNs, "link", "set", `${names.bridgedLink}i`, "up");
    await inNs(names.bridgedNs, "link", "set", "lo", "up");
    await inNs(names.bridgedNs, "route", "add", "default", "via", `${bridgedNet}.1`);
    const outside = await serve(names.outsideNs, port, children);
    const bridged = await serve(names.bridgedNs, port, children);
    return {
      outside: { address: `${outsideNet}.10`, linkLocal, hostSide: `${outsideNet}.1`, arrivals: outside },
      bridged: { address: `${bridgedNet}.10`, hostSide: `${bridgedNet}.1`, arrivals: bridged },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Runs the test host's listeners in a namespace; the list fills as packets arrive. */
async function serve(ns: string, port: number, children: ChildProcess[]): Promise<Arrival[]> {
  const child = spawn("ip", ["netns", "exec", ns, "python3", HOST_SCRIPT, String(port)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  const arrivals: Arrival[] = [];
  await new Promise<void>((resolve, reject) => {
    child.once("exit", (code) => {
      reject(new Error(`the test host in ${ns} exited with ${String(code)}`));
    });
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      const message = JSON.parse(line) as Partial<Arrival> & { listening?: number };
      if (message.listening !== undefined) resolve();
      else arrivals.push(message as Arrival);
    });
  });
  return arrivals;
}

/**
 * Listeners on the engine's host itself, as any service of the host would
 * be: TCP on every address, TCP on each of `boundTo`, UDP on every address,
 * and TCP on every IPv6 address. Each answers "seen <peer>" and records the
 * arrival (a UDP arrival's own address is not known: "").
 */
export async function startHostListeners(boundTo: string[]): Promise<{
  ports: { tcpAny: number; tcpBound: Record<string, number>; udpAny: number; tcp6Any: number };
  arrivals: Arrival[];
  stop: () => Promise<void>;
}> {
  const arrivals: Arrival[] = [];
  const servers: Server[] = [];
  const tcp = async (host: string, ipv6Only = false) => {
    const server = createServer((socket) => {
      const peer = socket.remoteAddress ?? "";
      arrivals.push({ proto: "tcp", peer, to: socket.localAddress ?? "" });
      socket.end(`seen ${peer}\n`);
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen({ host, port: 0, ipv6Only }, resolve));
    return (server.address() as AddressInfo).port;
  };
  const tcpAny = await tcp("0.0.0.0");
  const tcp6Any = await tcp("::", true);
  const tcpBound: Record<string, number> = {};
  for (const address of boundTo) tcpBound[address] = await tcp(address);
  const udp = createSocket("udp4");
  udp.on("message", (_message, peer) => {
    arrivals.push({ proto: "udp", peer: peer.address, to: "" });
    udp.send(`seen ${peer.address}\n`, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => udp.bind(0, "0.0.0.0", resolve));
  return {
    ports: { tcpAny, tcpBound, udpAny: udp.address().port, tcp6Any },
    arrivals,
    stop: async () => {
      await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
      udp.close();
    },
  };
}

/**
 * The engine host's own addresses a sandbox could aim at, read from the
 * host (`ip -j addr`, which lists interfaces that are down too, as docker0
 * is without containers): every address but loopback of the host's own
 * network interfaces, docker0 and sandfleet0 (the bridge of sandfleet's own engine
 * beside the machine's), and of the interfaces `keep` names. Other
 * interfaces come and go with other tests, and an address gone between
 * reading and trying would be routed off the machine. A link-local IPv6
 * address is given as a sandbox names it (%eth0).
 */
export async function hostAddresses(
  keep: (name: string, address: string) => boolean = () => false,
): Promise<{ name: string; address: string }[]> {
  const listed = await runCommand("ip", ["-j", "addr"]);
  if (listed.code !== 0) throw new Error(`ip -j addr: ${listed.stderr}`);
  const links = JSON.parse(listed.stdout) as {
    ifname: string;
    addr_info: { family: string; local: string; scope: string }[];
  }[];
  const lasting = /^(eth|en|wl|bond|docker0$|sandfleet0$)/;
  return links.flatMap(({ ifname, addr_info }) =>
    addr_info
      .filter((a) => a.scope !== "host" && (lasting.test(ifname) || keep(ifname, a.local)))
      .map((a) => ({
        name: ifname,
        address: a.scope === "link" && a.family === "inet6" ? `${a.local}%eth0` : a.local,
      })),
  );
}
