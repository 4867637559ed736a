import { readFile } from "node:fs/promises";
import { sha256Hex } from "../digest.ts";
import type { Engine } from "../engines/port.ts";
import type { ContainerInfo } from "../engines/port.ts";
import { ConflictError, SandfleetError } from "../errors.ts";
import { LABEL, ownershipLabels, scopeLabels } from "./labels.ts";
import { egressNetworkName } from "./egress-rules.ts";
import { newestRecords, writeRecord } from "./sandbox-records.ts";
import { binaryArchive, packagedBinary } from "./supervisor/placement.ts";

/** The app's egress network: a bridge with NAT, on which the daemon's rules decide what passes. */
export async function ensureEgressNetwork(
  docker: Engine,
  app: string,
): Promise<{ name: string; subnet: string; gateway: string }> {
  const name = egressNetworkName(app);
  let network = await docker.networks.inspect(name);
  if (!network) {
    try {
      await docker.networks.create({
        name,
        internal: false,
        masquerade: true,
        labels: ownershipLabels(app, "network", { [LABEL.egressNetwork]: "true" }),
      });
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error; // made meanwhile by another process
    }
    network = await docker.networks.inspect(name);
  }
  if (!network?.subnet || !network.gateway) throw new SandfleetError(`network ${name} has no IPv4 subnet`);
  return { name, subnet: network.subnet, gateway: network.gateway };
}

const DAEMON = "sandfleet-egress";
const DAEMON_BIN = "/egress/sandfleet-egress";

/**
 * The engine's egress daemon: a resolver and a firewall for every sandbox
 * with an allowlist, on the engine's host network with NET_ADMIN and nothing
 * else. It restarts with the engine; the agent gives it the whole state again.
 * SANDFLEET_EGRESS_HOSTS names a hosts file it answers from before the
 * host's own resolvers (the tests' small internet).
 */
async function ensureEgressDaemon(docker: Engine): Promise<string> {
  const info = await docker.info();
  const arch = info.architecture === "aarch64" || info.architecture === "arm64" ? "arm64" : "amd64";
  const { binary, version } = packagedBinary(`sandfleet-egress-linux-${arch}`);
  const hosts = process.env.SANDFLEET_EGRESS_HOSTS;
  // The daemon reads the hosts file when it starts: a changed file needs a new one.
  const hostsContent = hosts ? await readFile(hosts, "utf8") : "";
  const config = sha256Hex(JSON.stringify({ version, hosts, hostsContent })).slice(0, 16);
  const existing = await docker.containers.inspect(DAEMON);
  if (existing?.labels[LABEL.egressDaemon] === config) {
    if (!existing.running) await docker.containers.start(DAEMON);
    return DAEMON;
  }
  if (existing) await docker.containers.remove(DAEMON);
  const image = `sandfleet-egress:${version}`;
  if (!(await docker.images.inspect(image))) {
    await docker.images.importArchive(await binaryArchive("egress", binary, { "sandfleet-egress": 0o555 }), {
      repo: "sandfleet-egress",
      tag: version,
      labels: { [LABEL.managed]: "true" },
      env: [],
      cmd: undefined,
      entrypoint: undefined,
      user: "",
      workdir: "",
    });
  }
  try {
    await docker.containers.create({
      name: DAEMON,
      image,
      entrypoint: [DAEMON_BIN, "serve", ...(hosts ? ["--hosts", "/hosts"] : [])],
      env: {},
      labels: { [LABEL.managed]: "true", [LABEL.egressDaemon]: config },
      nanoCpus: 500_000_000,
      memoryBytes: 128 * 1024 * 1024,
      pidsLimit: 64,
      readOnlyRootfs: false,
      networkMode: "host",
      capDrop: ["ALL"],
      capAdd: ["NET_ADMIN", "NET_BIND_SERVICE"],
      securityOpt: ["no-new-privileges"],
      runtime: "runc",
      init: false,
      restartUnlessStopped: true,
      ...(hosts ? { hostFiles: [{ source: hosts, target: "/hosts" }] } : {}),
    });
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error; // another process placed it
  }
  const created = await docker.containers.inspect(DAEMON);
  if (!created?.running) await docker.containers.start(DAEMON).catch(() => undefined);
  return DAEMON;
}

/** The daemon that runs, whatever its settings; placed only when there is none. */
async function runningDaemon(docker: Engine): Promise<string> {
  const existing = await docker.containers.inspect(DAEMON);
  if (!existing) return ensureEgressDaemon(docker);
  if (!existing.running) await docker.containers.start(DAEMON);
  return DAEMON;
}

interface DaemonPolicy {
  id: string;
  ip: string;
  gateway: string;
  allow: string[];
}

/** A sandbox's allowlist now: the newest one set on it live, else the one it was made with. */
function allowlistOf(container: ContainerInfo, setLater: Map<string, string[]>): string[] | undefined {
  const later = setLater.get(container.id);
  if (later) return later;
  const label = container.labels[LABEL.egress];
  return label ? (JSON.parse(label) as string[]) : undefined;
}

async function allowlistsSetLater(docker: Engine, app?: string): Promise<Map<string, string[]>> {
  const records = await newestRecords(docker, "egress", app);
  return new Map([...records].map(([id, r]) => [id, JSON.parse(r.labels[LABEL.egress] ?? "[]") as string[]]));
}

/** The daemon's policy for one sandbox, or undefined when it has no allowlist or no address yet. */
function policyOf(
  container: ContainerInfo,
  setLater: Map<string, string[]>,
  networks: EgressNetwork[],
): DaemonPolicy | undefined {
  const allow = allowlistOf(container, setLater);
  const name = egressNetworkName(container.labels[LABEL.app] ?? "");
  const ip = container.addresses[name];
  const gateway = networks.find((n) => n.name === name)?.gateway;
  if (!allow || !ip || !gateway || !container.running) return undefined;
  return { id: container.id, ip, gateway, allow };
}

async function tellDaemon(docker: Engine, request: object, keepRunning = false): Promise<void> {
  const daemon = keepRunning ? await runningDaemon(docker) : await ensureEgressDaemon(docker);
  let lastError = "";
  // A daemon started a moment ago may not listen yet.
  for (let attempt = 0; attempt < 50; attempt++) {
    const process = await docker.exec.start(daemon, { argv: [DAEMON_BIN, "ctl"] }, { stdin: true });
    let stderr = "";
    process.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    process.stdout.resume();
    process.stdin?.end(JSON.stringify(request));
    if ((await process.wait()) === 0) return;
    lastError = stderr.trim();
    if (!lastError.includes("not running")) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new SandfleetError(`the egress daemon refused the allowlist: ${lastError}`);
}

interface EgressNetwork {
  name: string;
  subnet: string;
  gateway: string;
}

async function egressNetworks(docker: Engine): Promise<EgressNetwork[]> {
  const networks = await docker.networks.list({ [LABEL.managed]: "true", [LABEL.egressNetwork]: "true" });
  return networks.flatMap((n) =>
    n.subnet && n.gateway ? [{ name: n.name, subnet: n.subnet, gateway: n.gateway }] : [],
  );
}

/** The daemon's view of a network, as it sends it: where its resolver answers, which subnet it guards. */
function daemonNetworks(networks: EgressNetwork[]): { subnet: string; gateway: string }[] {
  return networks.map(({ subnet, gateway }) => ({ subnet, gateway }));
}

/**
 * Tells the daemon of every egress network before a sandbox starts on one:
 * from its first packet, a sandbox whose policy has not arrived reaches
 * only its resolver.
 */
export async function guardEgressNetworks(docker: Engine): Promise<void> {
  await tellDaemon(docker, { op: "set", networks: daemonNetworks(await egressNetworks(docker)), policies: [] });
}

/** Gives the daemon one sandbox's allowlist at once (a new sandbox, a changed list), leaving the others. */
export async function applyEgress(docker: Engine, sandboxId: string): Promise<void> {
  const container = await docker.containers.inspect(sandboxId);
  if (!container) return;
  const setLater = await allowlistsSetLater(docker, container.labels[LABEL.app]);
  const networks = await egressNetworks(docker);
  const policy = policyOf(container, setLater, networks);
  if (!policy) return;
  await tellDaemon(docker, { op: "set", networks: daemonNetworks(networks), policies: [policy] });
}

/**
 * Gives the daemon the whole truth from the engine: every egress network
 * and every running sandbox's allowlist. The agent does this on each pass,
 * so a restarted daemon or an ended sandbox converges.
 */
export async function syncEgress(docker: Engine, app?: string): Promise<void> {
  const networks = await egressNetworks(docker);
  // An agent of one app has nothing to keep when that app has no egress network.
  if (app !== undefined && !networks.some((n) => n.name === egressNetworkName(app))) return;
  if (networks.length === 0 && !(await docker.containers.inspect(DAEMON))) return;
  const listed = await docker.containers.list({ ...scopeLabels("sandbox"), [LABEL.egress]: "" });
  const setLater = await allowlistsSetLater(docker);
  const containers = await Promise.all(listed.map((c) => docker.containers.inspect(c.id)));
  const policies = containers
    .map((c) => (c ? policyOf(c, setLater, networks) : undefined))
    .filter((p): p is DaemonPolicy => p !== undefined);
  // The daemon as it is: an agent keeps it told, and does not place it anew with its own settings.
  await tellDaemon(docker, { op: "sync", networks: daemonNetworks(networks), policies }, true);
}

/** Replaces a live sandbox's allowlist: same container, the daemon told at once. */
export async function setEgress(docker: Engine, sandbox: { id: string; app: string }, allow: string[]): Promise<void> {
  await writeRecord(docker, "egress", sandbox, { [LABEL.egress]: JSON.stringify(allow) });
  await applyEgress(docker, sandbox.id);
}

/** What the daemon refused a sandbox, from its log: each with its destination and reason. */
export async function egressRefusals(
  docker: Engine,
  sandboxId: string,
): Promise<{ time: string; destination: string; reason: string }[]> {
  if (!(await docker.containers.inspect(DAEMON))) return [];
  const { stdout, stderr } = await docker.containers.logs(DAEMON, { follow: false });
  stderr.resume();
  let text = "";
  for await (const chunk of stdout) text += (chunk as Buffer).toString();
  return text.split("\n").flatMap((line) => {
    try {
      const entry = JSON.parse(line) as {
        sandbox?: string;
        refused?: boolean;
        time: string;
        destination: string;
        reason: string;
      };
      return entry.refused && entry.sandbox === sandboxId
        ? [{ time: entry.time, destination: entry.destination, reason: entry.reason }]
        : [];
    } catch {
      return [];
    }
  });
}
