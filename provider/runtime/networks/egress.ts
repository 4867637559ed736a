import { readFile } from "node:fs/promises";
import { sha256Hex } from "../../digest.ts";
import type { Engine } from "../../engines/port.ts";
import type { ContainerInfo } from "../../engines/port.ts";
import { ConflictError, InvalidArgumentError, NotFoundError, SandfleetError } from "../../errors.ts";
import { LABEL, ownershipLabels, scopeLabels } from "../engine-state/labels.ts";
import {
  egressAddressEntries,
  egressEntriesRefused,
  egressEntryProblem,
  egressNetworkName,
  egressRefusedBy,
} from "./egress-rules.ts";
import { egressTables, LEGACY_TABLES_KEY } from "./egress-tables.ts";
import { newestRecords, writeRecord } from "../engine-state/sandbox-records.ts";
import { binaryArchive, packagedBinary } from "../supervisor/placement.ts";

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

export const DAEMON = "sandfleet-egress";
const DAEMON_BIN = "/egress/sandfleet-egress";
/**
 * The daemon's log is kept by the engine in files of at most 10 MB, the
 * newest two: with the daemon's own bound on refusal lines (a few a second
 * per sandbox, a hundred in all) it holds minutes to hours, never the disk.
 */
const DAEMON_LOG = { maxFileBytes: 10 * 1024 * 1024, maxFiles: 2 };

/**
 * The engine's egress daemon: a resolver and a firewall for every sandbox
 * with an allowlist, on the engine's host network with NET_ADMIN and nothing
 * else. It restarts with the engine; the agent gives it the whole state again.
 * SANDFLEET_EGRESS_HOSTS names a hosts file it answers from before the
 * host's own resolvers (the tests' small internet), and SANDFLEET_EGRESS_PUBLIC
 * the ranges routed on the host that answers may still open (that internet's).
 */
async function ensureEgressDaemon(docker: Engine): Promise<string> {
  // Another process may be replacing it at this moment (a daemon of a new version, or a test's):
  // what it removes or places under this one is looked at again, a few times.
  for (let attempt = 1; ; attempt++) {
    try {
      return await placeEgressDaemon(docker);
    } catch (error) {
      const raced = error instanceof ConflictError || error instanceof NotFoundError;
      if (!raced || attempt >= 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}

async function placeEgressDaemon(docker: Engine): Promise<string> {
  const { version } = packagedBinary(`sandfleet-egress-linux-${await daemonArch(docker)}`);
  // Its tables are this engine's own: another engine's daemon on the same host keeps its own.
  const { dataRoot } = await docker.info();
  const tablesKey = dataRoot === undefined ? "" : egressTables(dataRoot).engineKey;
  const hosts = process.env.SANDFLEET_EGRESS_HOSTS;
  const upstream = process.env.SANDFLEET_EGRESS_UPSTREAM;
  const publicRanges = process.env.SANDFLEET_EGRESS_PUBLIC;
  // The daemon reads the hosts file when it starts: a changed file needs a new one.
  const hostsContent = hosts ? await readFile(hosts, "utf8") : "";
  const config = sha256Hex(
    JSON.stringify({ version, hosts, hostsContent, upstream, publicRanges, tablesKey, log: DAEMON_LOG }),
  ).slice(0, 16);
  const existing = await docker.containers.inspect(DAEMON);
  // The hosts, upstream and public ranges are hooks for a test's small internet, set only by
  // whoever runs those tests: a caller that sets none takes the daemon of its version as it is,
  // so that it never replaces one under sandboxes whose tests set them.
  const hooked = [hosts, upstream, publicRanges].some(Boolean);
  const fits = hooked
    ? existing?.labels[LABEL.egressDaemon] === config
    : existing?.labels[LABEL.egressDaemonVersion] === version &&
      (existing.labels[LABEL.egressDaemonTables] ?? "") === tablesKey;
  if (existing && fits) {
    if (!existing.running) await docker.containers.start(DAEMON);
    return DAEMON;
  }
  // The daemon replaced leaves its tables in the kernel: the new one removes them in the
  // transaction that places its own (so the host is never without them) when they are not its
  // own names, as for a daemon from before per-engine tables, or after the data root moved.
  const replacedTables = existing ? (existing.labels[LABEL.egressDaemonTables] ?? LEGACY_TABLES_KEY) : tablesKey;
  if (existing) await docker.containers.remove(DAEMON);
  const image = await daemonImage(docker);
  try {
    await docker.containers.create({
      name: DAEMON,
      image,
      entrypoint: [
        DAEMON_BIN,
        "serve",
        // The lines, not the file: a file gone by the time the engine restarts the daemon would keep it down.
        ...(hostsContent ? ["--hosts-text", hostsContent] : []),
        ...(upstream ? ["--upstream", upstream] : []),
        ...(publicRanges ? ["--public", publicRanges] : []),
        ...(tablesKey ? ["--engine-key", tablesKey] : []),
        ...(tablesKey && replacedTables !== tablesKey ? ["--retire-tables", replacedTables] : []),
      ],
      env: {},
      labels: {
        [LABEL.managed]: "true",
        [LABEL.egressDaemon]: config,
        [LABEL.egressDaemonVersion]: version,
        ...(tablesKey ? { [LABEL.egressDaemonTables]: tablesKey } : {}),
      },
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
      log: DAEMON_LOG,
    });
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error; // another process placed it
  }
  const created = await docker.containers.inspect(DAEMON);
  if (!created?.running) await docker.containers.start(DAEMON).catch(() => undefined);
  return DAEMON;
}

async function daemonArch(docker: Engine): Promise<string> {
  const info = await docker.info();
  return info.architecture === "aarch64" || info.architecture === "arm64" ? "arm64" : "amd64";
}

/** The daemon's image (its binary alone), imported once per version. */
async function daemonImage(docker: Engine): Promise<string> {
  const { binary, version } = packagedBinary(`sandfleet-egress-linux-${await daemonArch(docker)}`);
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
  return image;
}

/**
 * Closes the engine's embedded DNS server (127.0.0.11, inside every
 * container on a user-defined network) to a sandbox with an allowlist: it
 * answers the names of the app's other sandboxes itself, never asking
 * sandfleet's resolver. A helper container joins the sandbox's network
 * namespace with NET_ADMIN only, refuses every packet to 127.0.0.11 there,
 * and points the sandbox's resolv.conf (shared between the two) at the
 * resolver on its gateway; then it is removed. The helper is made before
 * the sandbox starts, and started the moment it has, so the sandbox's first
 * process has the engine's server for as short a time as the engine allows.
 * Returns what seals the started sandbox; a sandbox it cannot seal must not be kept.
 */
export async function prepareEgressSeal(
  docker: Engine,
  sandbox: { id: string; app: string },
  gateway: string,
): Promise<{ seal: () => Promise<void>; discard: () => Promise<void> }> {
  const helper = await docker.containers.create({
    image: await daemonImage(docker),
    entrypoint: [DAEMON_BIN, "seal", gateway],
    env: {},
    // The app's, so that one left by a process cut off midway goes with the app.
    labels: { [LABEL.managed]: "true", [LABEL.app]: sandbox.app },
    nanoCpus: 500_000_000,
    memoryBytes: 64 * 1024 * 1024,
    pidsLimit: 16,
    // Its resolv.conf is the sandbox's, and it writes it.
    readOnlyRootfs: false,
    networkMode: `container:${sandbox.id}`,
    capDrop: ["ALL"],
    capAdd: ["NET_ADMIN"],
    securityOpt: ["no-new-privileges"],
    runtime: "runc",
    init: false,
  });
  const discard = () => docker.containers.remove(helper).catch(() => undefined);
  const seal = async () => {
    try {
      await docker.containers.start(helper);
      const code = await docker.containers.wait(helper);
      if (code !== 0) {
        const { stderr, stdout } = await docker.containers.logs(helper, { follow: false });
        stdout.resume();
        let text = "";
        for await (const chunk of stderr) text += (chunk as Buffer).toString();
        throw new SandfleetError(`could not close the engine's DNS server to sandbox ${sandbox.id}: ${text.trim()}`);
      }
    } finally {
      await discard();
    }
  };
  return { seal, discard };
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
  /** Its MAC address there: the daemon's rules match both, so a left-over policy never fits another sandbox. */
  mac?: string;
  gateway: string;
  allow: string[];
}

/** A sandbox's allowlist now: the newest one set on it live, else the one it was made with. */
function allowlistOf(container: ContainerInfo, setLater: Map<string, string>): unknown {
  const label = setLater.get(container.id) ?? container.labels[LABEL.egress];
  if (label === undefined) return undefined;
  try {
    return JSON.parse(label) as unknown;
  } catch {
    return label; // not a list: checkedAllowlist says so
  }
}

/** The allowlists set on live sandboxes, as their records hold them (JSON text). */
async function allowlistsSetLater(docker: Engine, app?: string): Promise<Map<string, string>> {
  const records = await newestRecords(docker, "egress", app);
  return new Map([...records].map(([id, r]) => [id, r.labels[LABEL.egress] ?? "[]"]));
}

/**
 * A list as the engine holds it, checked with the grammar `sandfleet
 * validate` uses: a list written by an older version, or by hand, that
 * breaks it is reported and replaced by an empty one (its sandbox reaches
 * nothing until it is fixed), so it never stops the daemon from taking the others.
 */
function checkedAllowlist(raw: unknown): { allow: string[]; problem?: string } {
  if (!Array.isArray(raw)) return { allow: [], problem: "egress.allow is not a list" };
  for (const [i, entry] of raw.entries()) {
    const problem = egressEntryProblem(entry);
    if (problem) return { allow: [], problem: `egress.allow[${String(i)}] ${problem}` };
  }
  return { allow: raw as string[] };
}

/** A sandbox's list the agent could not give the daemon as it stands. */
export interface EgressProblem {
  app: string;
  sandbox: string;
  problem: string;
}

/** The daemon's policy for one sandbox, or undefined when it has no allowlist or no address yet. */
function policyOf(
  container: ContainerInfo,
  setLater: Map<string, string>,
  networks: EgressNetwork[],
  problems: EgressProblem[] = [],
): DaemonPolicy | undefined {
  const raw = allowlistOf(container, setLater);
  const app = container.labels[LABEL.app] ?? "";
  const name = egressNetworkName(app);
  const ip = container.addresses[name];
  const gateway = networks.find((n) => n.name === name)?.gateway;
  if (raw === undefined || !ip || !gateway || !container.running) return undefined;
  const { allow, problem } = checkedAllowlist(raw);
  if (problem) problems.push({ app, sandbox: container.labels[LABEL.name] ?? container.name, problem });
  const mac = container.macAddresses?.[name];
  return { id: container.id, ip, ...(mac ? { mac } : {}), gateway, allow };
}

/** What the daemon answers: refusals for "refusals", the policies it could not read for "sync". */
interface DaemonReply {
  refusals?: EgressRefusal[];
  problems?: { sandbox: string; problem: string }[];
  generation?: number;
  /** A sync whose snapshot was taken before the daemon's latest change: not applied. */
  stale?: boolean;
}

async function tellDaemon(docker: Engine, request: object, keepRunning = false, whose = ""): Promise<DaemonReply> {
  const answer = await exchange(docker, request, keepRunning);
  if ("refusal" in answer) {
    throw new SandfleetError(`the egress daemon refused the allowlist${whose}: ${answer.refusal}`);
  }
  return answer.reply;
}

/** " of sandbox NAME in app APP", for the daemon's refusals. */
function whoseList(container: ContainerInfo): string {
  const name = container.labels[LABEL.name] ?? container.name;
  return ` of sandbox ${name} (${container.id.slice(0, 12)}) in app ${container.labels[LABEL.app] ?? ""}`;
}

/**
 * Sends the engine's daemon one request: undefined when it did what was
 * asked, else its words. `keepRunning` takes the daemon as it runs (placed
 * only when there is none), instead of placing this package's.
 */
export async function askDaemon(docker: Engine, request: object, keepRunning = false): Promise<string | undefined> {
  const answer = await exchange(docker, request, keepRunning);
  return "refusal" in answer ? answer.refusal : undefined;
}

/** One request to the daemon: its reply, or its words when it refused. */
async function exchange(
  docker: Engine,
  request: object,
  keepRunning: boolean,
): Promise<{ reply: DaemonReply } | { refusal: string }> {
  const daemon = keepRunning ? await runningDaemon(docker) : await ensureEgressDaemon(docker);
  let lastError = "";
  // A daemon started a moment ago may not listen yet.
  for (let attempt = 0; attempt < 50; attempt++) {
    const process = await docker.exec.start(daemon, { argv: [DAEMON_BIN, "ctl"] }, { stdin: true });
    let stderr = "";
    let stdout = "";
    process.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    process.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    process.stdin?.end(JSON.stringify(request));
    if ((await process.wait()) === 0) {
      try {
        return { reply: JSON.parse(stdout) as DaemonReply };
      } catch {
        return { reply: {} }; // a daemon of an older version answers "ok"
      }
    }
    lastError = stderr.trim();
    if (!lastError.includes("not running")) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { refusal: lastError };
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

/** The running sandboxes with an allowlist, as the engine shows them now. */
async function sandboxesWithAllowlists(docker: Engine): Promise<ContainerInfo[]> {
  const listed = await docker.containers.list({ ...scopeLabels("sandbox"), [LABEL.egress]: "" });
  const containers = await Promise.all(listed.map((c) => docker.containers.inspect(c.id)));
  return containers.filter((c): c is ContainerInfo => c !== undefined);
}

/** Each running sandbox on its app's egress network, by id, with its address there. */
function heldAddresses(containers: ContainerInfo[]): Record<string, string> {
  const held: Record<string, string> = {};
  for (const c of containers) {
    const ip = c.addresses[egressNetworkName(c.labels[LABEL.app] ?? "")];
    if (c.running && ip) held[c.id] = ip;
  }
  return held;
}

/**
 * Tells the daemon of every egress network before a sandbox starts on one,
 * and which sandboxes hold which addresses: it drops every policy given
 * before the engine was read whose sandbox no longer holds its address (removed, stopped, or given another),
 * so the address the new sandbox gets carries no one else's list. From its
 * first packet, a sandbox whose policy has not arrived reaches only its resolver.
 */
export async function guardEgressNetworks(docker: Engine): Promise<void> {
  const networks = daemonNetworks(await egressNetworks(docker));
  // Read before the engine: a policy given after it (a sandbox started meanwhile) is not judged by this view.
  const { generation } = await tellDaemon(docker, { op: "generation" });
  const held = heldAddresses(await sandboxesWithAllowlists(docker));
  await tellDaemon(docker, { op: "set", networks, policies: [], held, generation });
}

/**
 * Takes a sandbox's policy away, before the sandbox is removed: its address,
 * once free, opens nothing of its list. Only a daemon that runs is told (none
 * keeps nothing); one that cannot be told drops it before the next sandbox starts.
 */
export async function forgetEgress(docker: Engine, sandboxId: string): Promise<void> {
  const daemon = await docker.containers.inspect(DAEMON);
  if (!daemon?.running) return;
  await askDaemon(docker, { op: "forget", forget: [sandboxId] }, true).catch(() => undefined);
}

/** Gives the daemon one sandbox's allowlist at once (a new sandbox, a changed list), leaving the others. */
export async function applyEgress(docker: Engine, sandboxId: string, allow?: string[]): Promise<void> {
  const container = await docker.containers.inspect(sandboxId);
  if (!container) return;
  const setLater = await allowlistsSetLater(docker, container.labels[LABEL.app]);
  if (allow) setLater.set(container.id, JSON.stringify(allow));
  const networks = await egressNetworks(docker);
  const policy = policyOf(container, setLater, networks);
  if (!policy) return;
  await tellDaemon(
    docker,
    { op: "set", networks: daemonNetworks(networks), policies: [policy] },
    false,
    whoseList(container),
  );
}

/** The engine's egress state as the agent gives it to the daemon, and the generation it was taken at. */
export interface EgressSnapshot {
  request: {
    op: "sync";
    networks: { subnet: string; gateway: string }[];
    policies: DaemonPolicy[];
    generation?: number;
  };
  containers: ContainerInfo[];
  problems: EgressProblem[];
}

/**
 * Reads the engine's whole egress state: every egress network and every
 * running sandbox's allowlist, after reading the daemon's generation, so
 * that the daemon can tell a snapshot older than its latest change.
 * Undefined when there is nothing to keep.
 */
export async function egressSnapshot(docker: Engine, app?: string): Promise<EgressSnapshot | undefined> {
  const networks = await egressNetworks(docker);
  // An agent of one app has nothing to keep when that app has no egress network.
  if (app !== undefined && !networks.some((n) => n.name === egressNetworkName(app))) return undefined;
  if (networks.length === 0 && !(await docker.containers.inspect(DAEMON))) return undefined;
  // A daemon of an older version keeps no generation (and is replaced as the next sandbox with a list is made).
  const asked = await exchange(docker, { op: "generation" }, true);
  const generation = "reply" in asked ? asked.reply.generation : undefined;
  const containers = await sandboxesWithAllowlists(docker);
  const setLater = await allowlistsSetLater(docker);
  const problems: EgressProblem[] = [];
  const policies = containers
    .map((c) => policyOf(c, setLater, networks, problems))
    .filter((p): p is DaemonPolicy => p !== undefined);
  return {
    request: {
      op: "sync",
      networks: daemonNetworks(networks),
      policies,
      ...(generation !== undefined ? { generation } : {}),
    },
    containers,
    problems,
  };
}

/**
 * Gives the daemon a snapshot. False when the daemon changed since it was
 * taken (a sandbox made or removed meanwhile): it is not applied, and a new one must be taken.
 */
export async function sendEgressSnapshot(docker: Engine, snapshot: EgressSnapshot): Promise<boolean> {
  // The daemon as it is: an agent keeps it told, and does not place it anew with its own settings.
  const reply = await tellDaemon(docker, snapshot.request, true);
  if (reply.stale) return false;
  // What the daemon could not read either (its grammar is the same; this holds if they ever part).
  for (const { sandbox: id, problem } of reply.problems ?? []) {
    const container = snapshot.containers.find((c) => c.id === id);
    snapshot.problems.push({
      app: container?.labels[LABEL.app] ?? "",
      sandbox: container?.labels[LABEL.name] ?? id,
      problem,
    });
  }
  return true;
}

/** How many times a pass takes a new snapshot when sandboxes come and go meanwhile. */
const SNAPSHOT_ATTEMPTS = 5;

/**
 * Gives the daemon the whole truth from the engine: every egress network
 * and every running sandbox's allowlist. The agent does this on each pass,
 * so a restarted daemon or an ended sandbox converges. A snapshot the
 * daemon finds older than its latest change is taken again.
 */
export async function syncEgress(docker: Engine, app?: string): Promise<EgressProblem[]> {
  for (let attempt = 1; ; attempt++) {
    const snapshot = await egressSnapshot(docker, app);
    if (!snapshot) return [];
    if (await sendEgressSnapshot(docker, snapshot)) return snapshot.problems;
    if (attempt >= SNAPSHOT_ATTEMPTS) {
      throw new SandfleetError(
        `the egress daemon's policies changed during each of ${String(SNAPSHOT_ATTEMPTS)} syncs; the next pass tries again`,
      );
    }
  }
}

/**
 * Replaces a live sandbox's allowlist: same container. The daemon takes the
 * new list first; only then is it recorded, so the record never says what
 * is not enforced. A record that cannot be written puts the old list back.
 */
export async function setEgress(docker: Engine, sandbox: { id: string; app: string }, allow: string[]): Promise<void> {
  // What this engine cannot hold is refused before the old list is touched, in its own words.
  const { capabilities } = await docker.info();
  const refused = egressEntriesRefused(allow, egressRefusedBy(capabilities));
  if (refused.length > 0) {
    throw new InvalidArgumentError(
      refused.map(({ index, reason }) => `egress.allow[${String(index)}]: ${reason}`).join("; "),
    );
  }
  const apply = async (list?: string[]) => {
    if (!docker.egress) return applyEgress(docker, sandbox.id, list);
    await docker.egress.set(sandbox.id, egressAddressEntries(list ?? (await currentAllowlist(docker, sandbox))));
  };
  await apply(allow);
  try {
    await writeRecord(docker, "egress", sandbox, { [LABEL.egress]: JSON.stringify(allow) });
  } catch (error) {
    await apply().catch(() => undefined);
    throw error;
  }
}

/** The list a sandbox holds as recorded: the newest set on it live, else the one it was made with. */
async function currentAllowlist(docker: Engine, sandbox: { id: string; app: string }): Promise<string[]> {
  const container = await docker.containers.inspect(sandbox.id);
  if (!container) return [];
  return checkedAllowlist(allowlistOf(container, await allowlistsSetLater(docker, sandbox.app))).allow;
}

/** One refusal; `more` marks a summary of refusals counted but not logged one by one. */
export interface EgressRefusal {
  time: string;
  destination: string;
  reason: string;
  more?: number;
}

/**
 * What the daemon refused a sandbox: the newest it keeps (500 a sandbox,
 * since the daemon started), each with its destination and reason, and
 * summaries of the refusals past its logging rate. Asked of the daemon, so
 * its size does not grow with the daemon's log.
 */
export async function egressRefusals(docker: Engine, sandboxId: string): Promise<EgressRefusal[]> {
  if (!(await docker.containers.inspect(DAEMON))) return [];
  // A daemon of an older version (replaced as the next sandbox with a list is made) keeps none.
  const reply = await tellDaemon(docker, { op: "refusals", sandbox: sandboxId }, true);
  return (reply.refusals ?? []).map((r) => ({ ...r, destination: r.destination || "" }));
}
