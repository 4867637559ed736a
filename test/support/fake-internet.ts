import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { machineLock } from "./machine-lock.ts";
import { runCommand } from "./run.ts";

const HOST_SCRIPT = new URL("../fixtures/scripts/internet_host.py", import.meta.url).pathname;
const DNS_SCRIPT = new URL("../fixtures/scripts/internet_dns.py", import.meta.url).pathname;

/** A record of the small internet's DNS server. */
export type ZoneRecord = { a: string } | { cname: string };

/** A question the DNS server was asked, as the labels it read off the wire. */
export interface DnsQuestion {
  labels: string[];
  type: number;
}

/** A host of the small internet: its address and the names the resolver knows it by. */
export interface InternetHost {
  address: string;
  names: string[];
}

/** A running small internet. */
export interface FakeInternet {
  hosts: Record<string, InternetHost>;
  hostsFile: string;
  /** Its network, routed on this host: give the daemon `SANDFLEET_EGRESS_PUBLIC=network` so that names may open it. */
  network: string;
  /** This host's own address on it. */
  hostAddress: string;
  /** With a zone: its DNS server (give the daemon `SANDFLEET_EGRESS_UPSTREAM=address:53`) and what it was asked. */
  dns?: { address: string; questions: DnsQuestion[] };
  stop: () => Promise<void>;
}

/**
 * A small internet for the egress tests, on this machine only: a network
 * namespace joined to the host by a veth pair, holding a few addresses in
 * 198.18.0.0/15 (set aside for tests), each serving HTTP and HTTPS. A hosts
 * file gives them names, for sandfleet's resolver. Nothing leaves the machine.
 * One at a time on this machine: the engine has one egress daemon, started
 * with the hosts file and upstream of whoever asks, and a second internet
 * would replace it under the first one's sandboxes. Waits for the one before
 * to stop (up to ten minutes), so a caller's hook timeout must allow that.
 */
export async function startFakeInternet(
  names: Record<string, string[]>,
  options: { zone?: (hosts: Record<string, InternetHost>) => Record<string, ZoneRecord> } = {},
): Promise<FakeInternet> {
  const release = await machineLock("fake-internet", 600_000);
  try {
    const internet = await startLocked(names, options);
    return {
      ...internet,
      stop: async () => {
        try {
          await internet.stop();
        } finally {
          release();
        }
      },
    };
  } catch (error) {
    release();
    throw error;
  }
}

async function startLocked(
  names: Record<string, string[]>,
  options: { zone?: (hosts: Record<string, InternetHost>) => Record<string, ZoneRecord> },
): Promise<FakeInternet> {
  const id = Math.floor(Math.random() * 200) + 20;
  const ns = `sfnet${String(id)}`;
  const outside = `sfv${String(id)}`;
  const net = `198.18.${String(id)}`;
  const dir = mkdtempSync(join(tmpdir(), "sandfleet-internet-"));
  const ip = async (...args: string[]) => {
    const result = await runCommand("ip", args);
    if (result.code !== 0) throw new Error(`ip ${args.join(" ")}: ${result.stderr}`);
  };
  await ip("netns", "add", ns);
  await ip("link", "add", outside, "type", "veth", "peer", "name", `${outside}i`);
  await ip("link", "set", `${outside}i`, "netns", ns);
  await ip("addr", "add", `${net}.1/24`, "dev", outside);
  await ip("link", "set", outside, "up");
  const hosts: Record<string, InternetHost> = {};
  let n = 10;
  for (const [key, hostNames] of Object.entries(names)) {
    const address = `${net}.${String(n)}`;
    n += 10;
    await ip("netns", "exec", ns, "ip", "addr", "add", `${address}/24`, "dev", `${outside}i`);
    hosts[key] = { address, names: hostNames };
  }
  await ip("netns", "exec", ns, "ip", "link", "set", `${outside}i`, "up");
  await ip("netns", "exec", ns, "ip", "link", "set", "lo", "up");
  await ip("netns", "exec", ns, "ip", "route", "add", "default", "via", `${net}.1`);
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  const made = await runCommand("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=test",
    "-addext",
    `subjectAltName=${Object.values(hosts)
      .flatMap((h) => h.names.map((name) => `DNS:${name}`))
      .join(",")}`,
    "-keyout",
    key,
    "-out",
    cert,
  ]);
  if (made.code !== 0) throw new Error(`openssl: ${made.stderr}`);
  const server: ChildProcess = spawn("ip", ["netns", "exec", ns, "python3", HOST_SCRIPT, cert, key], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  await new Promise<void>((resolve, reject) => {
    server.stdout?.once("data", () => {
      resolve();
    });
    server.once("exit", (code) => {
      reject(new Error(`the internet's hosts exited with ${String(code)}`));
    });
  });
  let dns: { address: string; questions: DnsQuestion[] } | undefined;
  let dnsServer: ChildProcess | undefined;
  if (options.zone) {
    const address = `${net}.53`;
    await ip("netns", "exec", ns, "ip", "addr", "add", `${address}/24`, "dev", `${outside}i`);
    const questions: DnsQuestion[] = [];
    dns = { address, questions };
    const started = spawn(
      "ip",
      ["netns", "exec", ns, "python3", DNS_SCRIPT, address, JSON.stringify(options.zone(hosts))],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    dnsServer = started;
    let pending = "";
    await new Promise<void>((resolve, reject) => {
      started.stdout.on("data", (chunk: Buffer) => {
        pending += chunk.toString();
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines) {
          const parsed = JSON.parse(line) as DnsQuestion | { listening: string };
          if ("labels" in parsed) questions.push(parsed);
          else resolve();
        }
      });
      started.once("exit", (code) => {
        reject(new Error(`the internet's DNS server exited with ${String(code)}`));
      });
    });
  }
  const hostsFile = join(dir, "hosts");
  writeFileSync(
    hostsFile,
    Object.values(hosts)
      .map((h) => `${h.address} ${h.names.join(" ")}\n`)
      .join(""),
  );
  return {
    hosts,
    hostsFile,
    network: `${net}.0/24`,
    hostAddress: `${net}.1`,
    ...(dns ? { dns } : {}),
    stop: async () => {
      server.kill("SIGKILL");
      dnsServer?.kill("SIGKILL");
      await runCommand("ip", ["link", "del", outside]);
      await runCommand("ip", ["netns", "del", ns]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
