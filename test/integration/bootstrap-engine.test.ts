import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectDocker } from "../../provider/engines/docker/client.ts";
import { DisposableEngine } from "../support/disposable-engine.ts";
import { until } from "../support/until.ts";

const run = promisify(execFile);
const root = new URL("../..", import.meta.url).pathname;

/** A dockerd as the kernel knows it: its pid and its start time (in clock ticks since boot). */
function daemonIdentity(pidFile: string): { pid: number; startTicks: string } {
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  const stat = readFileSync(`/proc/${String(pid)}/stat`, "utf8");
  // Fields after the command's name, which is in parentheses and may hold spaces: field 22 is the start time.
  const startTicks = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
  return { pid, startTicks };
}

async function docker(host: string, ...args: string[]): Promise<string> {
  const { stdout } = await run("docker", ["-H", host, ...args]);
  return stdout.trim();
}

/** How many ICMP echo requests a container's network namespace has received (its kernel's own count). */
async function echoRequestsSeen(host: string, container: string): Promise<number> {
  const [names, values] = (await docker(host, "exec", container, "cat", "/proc/net/snmp"))
    .split("\n")
    .filter((line) => line.startsWith("Icmp:"))
    .map((line) => line.split(/\s+/));
  return Number(values?.[names?.indexOf("InEchos") ?? -1]);
}

/** The outside host's server: each TCP connection to 8080 is answered with the address it came from, and each echo request it gets is told on stdout. */
const OUTSIDE_SERVER = `
import socket, threading

def tell_echo_requests():
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    while True:
        packet, (peer, _) = raw.recvfrom(65535)
        if packet[(packet[0] & 0x0F) * 4] == 8:
            print("ping", peer, len(packet), flush=True)

threading.Thread(target=tell_echo_requests, daemon=True).start()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080))
s.listen()
print("ready", flush=True)
while True:
    c, (peer, _) = s.accept()
    c.sendall((peer + "\\n").encode())
    c.close()
`;

/** Listens on 8080 and tells the source of every TCP SYN that reaches its network namespace. */
const SYN_LISTENER = `
import socket, threading

def tell_syns():
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    while True:
        packet = raw.recv(65535)
        ihl = (packet[0] & 0x0F) * 4
        if packet[ihl + 13] & 0x12 == 0x02:
            print("syn from", socket.inet_ntoa(packet[12:16]), flush=True)

threading.Thread(target=tell_syns, daemon=True).start()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080))
s.listen()
print("ready", flush=True)
while True:
    s.accept()[0].close()
`;

/**
 * A host outside every engine: a network namespace joined to this host by a
 * veth pair in 198.19.0.0/16 (set aside for tests), running OUTSIDE_SERVER.
 */
function outsideHost(id: string) {
  const ns = `sfo-${id}`;
  const octet = String(parseInt(id.slice(0, 2), 16));
  const hostAddress = `198.19.${octet}.1`;
  const address = `198.19.${octet}.2`;
  /** The echo requests it got, as "source length". */
  const pings: string[] = [];
  let server: ChildProcess | undefined;
  return {
    address,
    hostAddress,
    pings,
    async start(): Promise<void> {
      await run("ip", ["netns", "add", ns]);
      await run("ip", ["link", "add", `sfo${id}h`, "type", "veth", "peer", "name", `sfo${id}n`, "netns", ns]);
      await run("ip", ["addr", "add", `${hostAddress}/30`, "dev", `sfo${id}h`]);
      await run("ip", ["link", "set", `sfo${id}h`, "up"]);
      await run("ip", ["-n", ns, "addr", "add", `${address}/30`, "dev", `sfo${id}n`]);
      await run("ip", ["-n", ns, "link", "set", `sfo${id}n`, "up"]);
      const started = spawn("ip", ["netns", "exec", ns, "python3", "-c", OUTSIDE_SERVER], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      server = started;
      let lines = "";
      await new Promise<void>((resolve, reject) => {
        started.stdout.on("data", (chunk: Buffer) => {
          lines += chunk.toString();
          for (let end = lines.indexOf("\n"); end >= 0; end = lines.indexOf("\n")) {
            const line = lines.slice(0, end);
            lines = lines.slice(end + 1);
            if (line === "ready") resolve();
            else if (line.startsWith("ping ")) pings.push(line.slice("ping ".length));
          }
        });
        started.once("exit", (code) => {
          reject(new Error(`the outside host's server ended (${String(code)})`));
        });
      });
    },
    async stop(): Promise<void> {
      server?.kill();
      await run("ip", ["netns", "del", ns]).catch(() => undefined);
      await run("ip", ["link", "del", `sfo${id}h`]).catch(() => undefined);
    },
  };
}

/**
 * The engine step of scripts/bootstrap on a machine whose socket already has
 * an engine sandfleet did not start. The "machine's engine" is a stand-in the
 * test starts (its own socket, data root and bridge), and every path and name
 * the step uses for sandfleet's own engine is one of the test's: neither the
 * machine's /var/run/docker.sock nor the engine the other tests use is touched.
 */
describe("the bootstrap's engine step beside an engine sandfleet did not start", () => {
  const suffix = randomBytes(3).toString("hex");
  const octet = String(parseInt(suffix.slice(0, 2), 16));
  const outside = outsideHost(suffix);
  let machine: DisposableEngine;
  /** What afterAll disposes of: the stand-in, once it started. */
  const started: DisposableEngine[] = [];
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let own: string;
  let machineContainer: string;
  let before: { daemon: ReturnType<typeof daemonIdentity>; config: string; configTime: number; startedAt: string };
  /** The engine on the machine's own socket, which the other tests use (none on a machine where sandfleet's runs beside). */
  const sharedEngine = () => (existsSync("/var/run/docker.pid") ? daemonIdentity("/var/run/docker.pid") : undefined);
  let sharedBefore: ReturnType<typeof sharedEngine>;
  const socketGroup = `sfo${suffix}`;
  /** The engine the other tests use, with Docker's own iptables rules. */
  const sharedHost = process.env.DOCKER_HOST;

  const engineStep = async (extra: NodeJS.ProcessEnv = {}): Promise<string> => {
    const { stdout, stderr } = await run("bash", [join(root, "scripts/lib/engine.sh")], {
      env: { ...env, ...extra },
      maxBuffer: 1 << 20,
    });
    return stdout + stderr;
  };

  /** What the machine's engine is now, to compare with `before`. */
  const machineNow = async (): Promise<typeof before> => {
    const config = join(machine.dir, "daemon.json");
    return {
      daemon: daemonIdentity(join(machine.dir, "docker.pid")),
      config: readFileSync(config, "utf8"),
      configTime: statSync(config).mtimeMs,
      startedAt: await docker(
        machine.host,
        "inspect",
        "--format",
        "{{.State.Running}} {{.State.StartedAt}}",
        machineContainer,
      ),
    };
  };

  /** The host's docker0, the machine engine's bridge, by interface index: deleted and made again, it would differ. */
  const docker0 = () => readFileSync("/sys/class/net/docker0/ifindex", "utf8").trim();
  let docker0Before: string;

  beforeAll(async () => {
    sharedBefore = sharedEngine();
    docker0Before = docker0();
    machine = await DisposableEngine.start(["sandfleet/busybox"]);
    started.push(machine);
    // The machine's socket in a group of its own: sandfleet's socket is to take the same one, not `docker`.
    await run("groupadd", ["--system", socketGroup]);
    await run("chgrp", [socketGroup, machine.host.replace("unix://", "")]);
    machineContainer = await docker(machine.host, "run", "-d", "sandfleet/busybox", "sleep", "86400");
    // Short: sockets under it must fit in 108 bytes.
    dir = mkdtempSync("/tmp/sfo-");
    own = `unix://${join(dir, "run", "docker.sock")}`;
    env = {
      ...process.env,
      SANDFLEET_MACHINE_DOCKER_HOST: machine.host,
      SANDFLEET_MACHINE_DAEMON_JSON: join(machine.dir, "daemon.json"),
      SANDFLEET_MACHINE_PIDFILE: join(machine.dir, "docker.pid"),
      SANDFLEET_ENGINE_RUN_DIR: join(dir, "run"),
      SANDFLEET_ENGINE_CONFIG: join(dir, "docker.json"),
      SANDFLEET_ENGINE_DATA_ROOT: join(dir, "data"),
      SANDFLEET_ENGINE_STORAGE_FILE: join(dir, "btrfs.img"),
      SANDFLEET_ENGINE_STORAGE_SIZE: "1G",
      SANDFLEET_ENGINE_LOG: join(dir, "dockerd.log"),
      SANDFLEET_ENGINE_BRIDGE: `sfo${suffix}`,
      SANDFLEET_ENGINE_BRIDGE_CIDR: `10.252.${octet}.1/24`,
      SANDFLEET_ENGINE_POOL: `10.253.${octet}.0/24`,
      SANDFLEET_ENGINE_CHAIN: `SFO-${suffix}`,
      SANDFLEET_ENGINE_NFT_TABLE: `sfo_${suffix}`,
      SANDFLEET_ENGINE_HOST_FILE: join(dir, "engine-host"),
    };
    delete env.SANDFLEET_ENGINE;
    delete env.DOCKER_HOST;
    before = await machineNow();
  });

  afterAll(async () => {
    await outside.stop();
    await run("groupdel", [socketGroup]).catch(() => undefined);
    if (dir) {
      await run("bash", [join(root, "scripts/lib/engine-beside.sh"), "down"], { env }).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
    await Promise.all(started.map((engine) => engine.dispose()));
  });

  it("starts sandfleet's own engine on its own socket, data root and bridge, and leaves the machine's running as it was", async () => {
    const said = await engineStep();
    expect(said).toContain(`starting sandfleet's own dockerd at ${own}`);

    expect(await machineNow()).toEqual(before);
    expect(before.startedAt).toMatch(/^true /);
    expect(sharedEngine()).toEqual(sharedBefore);

    const info = await connectDocker(own).info();
    expect(info.storageDriver).toBe("btrfs");
    expect(await docker(own, "info", "--format", "{{.DockerRootDir}} {{json .Runtimes}}")).toMatch(
      new RegExp(`^${join(dir, "data")} .*"runsc"`),
    );
    const bridge = await docker(
      own,
      "network",
      "inspect",
      "bridge",
      "--format",
      '{{index .Options "com.docker.network.bridge.name"}} {{(index .IPAM.Config 0).Subnet}}',
    );
    expect(bridge).toBe(`sfo${suffix} 10.252.${octet}.0/24`);
    // Its socket: root's, and the group of the machine engine's socket; its directory closed to others.
    expect((await run("stat", ["-c", "%U:%G %a", join(dir, "run", "docker.sock"), join(dir, "run")])).stdout).toBe(
      `root:${socketGroup} 660\nroot:${socketGroup} 750\n`,
    );
    // with-env points the commands and tests at it.
    expect(readFileSync(join(dir, "engine-host"), "utf8")).toBe(`${own}\n`);
    const { stdout: withEnv } = await run("bash", [join(root, "scripts/with-env"), "sh", "-c", 'echo "$DOCKER_HOST"'], {
      env,
    });
    expect(withEnv.trim()).toBe(own);
    // Its firewall is a chain and a table of its own, jumped to from FORWARD.
    // After an administrator's DOCKER-USER, whose rules then hold for its traffic too.
    const forward = (await run("iptables", ["-w", "-S", "FORWARD"])).stdout.split("\n");
    const ours = forward.indexOf(`-A FORWARD -j SFO-${suffix}`);
    expect(ours).toBeGreaterThan(forward.indexOf("-A FORWARD -j DOCKER-USER"));
    expect((await run("nft", ["list", "table", "inet", `sfo_${suffix}`])).stdout).toContain('oifkind "bridge" drop');
  });

  it("runs a container of its own on its own bridge, and keeps the engine it started when run again", async () => {
    const ownPid = daemonIdentity(join(dir, "run", "docker.pid"));
    await run("sh", ["-c", 'docker -H "$1" save sandfleet/busybox | docker -H "$2" load -q', "sh", machine.host, own]);
    const address = await docker(own, "run", "--rm", "sandfleet/busybox", "sh", "-c", "ip -4 -o addr show eth0");
    expect(address).toContain(`inet 10.252.${octet}.`);
    // Under its exec root, a containerd of its own, whose containers are in a namespace of sandfleet's.
    const containerd = join(dir, "run", "engine", "containerd", "containerd.sock");
    expect((await run("ctr", ["--address", containerd, "namespaces", "ls", "-q"])).stdout.split("\n")).toContain(
      "sandfleet",
    );

    const said = await engineStep();
    expect(said).not.toContain("starting");
    expect(daemonIdentity(join(dir, "run", "docker.pid"))).toEqual(ownPid);
    expect(await machineNow()).toEqual(before);
  });

  it("lets its containers talk on one bridge, by name, out through its own NAT and on published ports, and keeps them and the machine engine's apart", async () => {
    const listen = (text: string) => ["sh", "-c", `while true; do echo ${text} | nc -l -p 8080; done`];
    const address = (host: string, id: string) =>
      docker(host, "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", id);
    const ask = async (host: string, network: string, to: string): Promise<string> => {
      const args = [
        "run",
        "--rm",
        "--network",
        network,
        "sandfleet/busybox",
        "sh",
        "-c",
        `nc -w 3 ${to} 8080 </dev/null`,
      ];
      return docker(host, ...args).catch(() => "");
    };
    const ownListener = await docker(own, "run", "-d", "-p", "127.0.0.1::8080", "sandfleet/busybox", ...listen("own"));
    const ownAddress = await address(own, ownListener);
    const machineListener = await docker(machine.host, "run", "-d", "sandfleet/busybox", ...listen("machine"));
    const machineAddress = await address(machine.host, machineListener);
    // A host outside both engines: a network namespace joined to this host by a veth pair,
    // which answers with the address a connection came from.
    await outside.start();

    // Between two containers on its bridge, and out (as this host's address: its own NAT).
    await until(
      "a container on its bridge answering another",
      async () => (await ask(own, "bridge", ownAddress)) === "own",
    );
    expect(await ask(own, "bridge", outside.address)).toBe(outside.hostAddress);
    // Not into the machine engine's containers, which this host itself reaches.
    const fromHost = () => run("busybox", ["nc", "-w", "3", machineAddress, "8080"]).catch(() => ({ stdout: "" }));
    await until(
      "the machine engine's container answering this host",
      async () => (await fromHost()).stdout.trim() === "machine",
    );
    expect(await ask(own, "bridge", machineAddress)).toBe("");
    // Nor from them into its own, even when the machine engine's rules come first and accept all its
    // containers send (as a Docker engine's do once it restarts: its jumps go to the top of FORWARD);
    // nor from another of its own networks (Docker's isolation).
    const machineBridge = await docker(
      machine.host,
      "network",
      "inspect",
      "bridge",
      "--format",
      '{{index .Options "com.docker.network.bridge.name"}}',
    );
    const theirs = ["FORWARD", "-i", machineBridge, "-j", "ACCEPT"];
    await run("iptables", ["-w", "-I", ...theirs.slice(0, 1), "1", ...theirs.slice(1)]);
    try {
      expect(await ask(machine.host, "bridge", ownAddress)).toBe("");
      // Not even one way: an echo request from their container is never counted by its own (a ping
      // from this host after it, which is, says when to look).
      const echoesBefore = await echoRequestsSeen(own, ownListener);
      await docker(machine.host, "run", "--rm", "sandfleet/busybox", "sh", "-c", `ping -c 1 -W 1 ${ownAddress}; true`);
      await run("busybox", ["ping", "-c", "1", "-W", "1", ownAddress]);
      await until(
        "this host's echo request reaching its container",
        async () => (await echoRequestsSeen(own, ownListener)) > echoesBefore,
      );
      expect(await echoRequestsSeen(own, ownListener)).toBe(echoesBefore + 1);
    } finally {
      await run("iptables", ["-w", "-D", ...theirs]);
    }
    await docker(own, "network", "create", `sfo-other-${suffix}`);
    expect(await ask(own, `sfo-other-${suffix}`, ownAddress)).toBe("");
    // Within a network of its own, by name (the engine's DNS works without its iptables).
    const peer = `sfo-peer-${suffix}`;
    await docker(
      own,
      "run",
      "-d",
      "--name",
      peer,
      "--network",
      `sfo-other-${suffix}`,
      "sandfleet/busybox",
      ...listen("peer"),
    );
    await until(
      "a container answering by its name",
      async () => (await ask(own, `sfo-other-${suffix}`, peer)) === "peer",
    );
    // A published port answers on this host (Docker's proxy, without its iptables).
    const published = (await docker(own, "port", ownListener, "8080")).split(":").pop() ?? "";
    const onHost = await run("busybox", ["nc", "-w", "3", "127.0.0.1", published]);
    expect(onHost.stdout.trim()).toBe("own");
    await docker(own, "rm", "-f", ownListener, peer);
    await docker(own, "network", "rm", `sfo-other-${suffix}`);
    await docker(machine.host, "rm", "-f", machineListener);
  });

  it("lets nothing through for a container of the machine's engine that passes for one of its own", async () => {
    // Sent as 10.252.x.77, an address of sandfleet's bridge, from the machine engine's bridge; a packet of
    // the same size from this host's own address after it, which does arrive, says when to look.
    const spoofed = `10.252.${octet}.77`;
    await docker(
      machine.host,
      "run",
      "--rm",
      "--cap-add",
      "NET_ADMIN",
      "sandfleet/busybox",
      "sh",
      "-c",
      `ip addr add ${spoofed}/32 dev eth0 && ping -c 1 -W 1 -s 77 -I ${spoofed} ${outside.address}; true`,
    );
    await run("busybox", ["ping", "-c", "1", "-W", "1", "-s", "99", outside.address]);
    // IPv4 and ICMP headers: 28 bytes before the payload.
    await until("this host's own echo request reaching the outside host", async () =>
      Promise.resolve(outside.pings.includes(`${outside.hostAddress} 127`)),
    );
    expect(outside.pings.filter((ping) => ping.endsWith(" 105"))).toEqual([]);
  });

  it("forwards nothing from a container of its own that sends as an address outside its networks, even to a port another engine publishes", async () => {
    // A listener on an engine with Docker's own iptables rules (the one the other tests use), published on this
    // host's address: Docker's rules accept whatever its DNAT sends to it, whatever the source.
    const shared = sharedHost ?? "unix:///var/run/docker.sock";
    const listener = await docker(
      shared,
      "run",
      "-d",
      "-p",
      `${outside.hostAddress}::8080`,
      "sandfleet/python",
      "python3",
      "-u",
      "-c",
      SYN_LISTENER,
    );
    try {
      const port = (await docker(shared, "port", listener, "8080")).split(":").pop() ?? "";
      await until("the listener ready", async () => (await docker(shared, "logs", listener)).includes("ready"));
      // Sent as 10.99.x.5 from its own bridge with NET_ADMIN (a plain `docker run` may have NET_RAW).
      await docker(
        own,
        "run",
        "--rm",
        "--cap-add",
        "NET_ADMIN",
        "sandfleet/busybox",
        "sh",
        "-c",
        `ip addr add 10.99.${octet}.5/32 dev eth0 && nc -w 2 -s 10.99.${octet}.5 ${outside.hostAddress} ${port} </dev/null; true`,
      );
      // This host's own connection after it, which does arrive, says when to look.
      await run("busybox", ["nc", "-w", "2", outside.hostAddress, port]).catch(() => undefined);
      await until("this host's connection reaching the listener", async () =>
        (await docker(shared, "logs", listener)).includes("syn from"),
      );
      expect(await docker(shared, "logs", listener)).not.toContain(`syn from 10.99.${octet}.5`);
    } finally {
      await docker(shared, "rm", "-f", listener);
    }
  });

  it("forwards nothing of its own once its nftables table is lost, until the bootstrap places it again", async () => {
    const out = () =>
      docker(own, "run", "--rm", "sandfleet/busybox", "sh", "-c", `nc -w 3 ${outside.address} 8080 </dev/null`).catch(
        () => "",
      );
    expect(await out()).toBe(outside.hostAddress);
    // As `nft flush ruleset` (which Debian's /etc/nftables.conf starts with) would leave it.
    await run("nft", ["delete", "table", "inet", `sfo_${suffix}`]);
    expect(await out()).toBe("");
    await engineStep();
    expect(await out()).toBe(outside.hostAddress);
  });

  it("uses the machine's engine as it is when told to, and says what it cannot bound or run there", async () => {
    const said = await engineStep({ SANDFLEET_ENGINE: "machine" });
    expect(said).toContain(`using the machine's engine at ${machine.host} as it is`);
    // The stand-in stores containers with overlay2 on ext4, and has no runsc.
    expect(said).toMatch(/cannot bound a sandbox's disk there: .*cannot bound a container's disk/);
    expect(said).toContain("cannot run gVisor there");
    expect(existsSync(join(dir, "engine-host"))).toBe(false);
    expect(await machineNow()).toEqual(before);
    expect(sharedEngine()).toEqual(sharedBefore);
  });

  it("takes down sandfleet's own engine and what it put on the machine, and nothing of the machine's engine", async () => {
    await run("bash", [join(root, "scripts/lib/engine-beside.sh"), "down"], { env });
    await expect(connectDocker(own).ping()).rejects.toThrow();
    expect((await run("iptables", ["-w", "-S", "FORWARD"])).stdout).not.toContain(`SFO-${suffix}`);
    await expect(run("nft", ["list", "table", "inet", `sfo_${suffix}`])).rejects.toThrow();
    await expect(run("ip", ["link", "show", `sfo${suffix}`])).rejects.toThrow();
    await expect(run("mountpoint", ["-q", join(dir, "data")])).rejects.toThrow();
    expect(await machineNow()).toEqual(before);
  });

  it("leaves a stopped engine configured by its own daemon.json alone, and starts its own beside it", async () => {
    const { config, configTime } = await machineNow();
    await machine.stopDaemon();
    const said = await engineStep();
    expect(said).toContain(`starting sandfleet's own dockerd at ${own}`);
    await connectDocker(own).ping();
    // The machine's engine stays stopped, its configuration as it was.
    await expect(connectDocker(machine.host).ping()).rejects.toThrow();
    const file = join(machine.dir, "daemon.json");
    expect([readFileSync(file, "utf8"), statSync(file).mtimeMs]).toEqual([config, configTime]);
    expect(sharedEngine()).toEqual(sharedBefore);
    // A dockerd with an address pool deletes docker0 when it starts again on its data root, unless
    // it keeps containers alive across restarts: sandfleet's must not take the machine engine's bridge.
    expect(docker0()).toBe(docker0Before);
  });
});
