import { readFileSync } from "node:fs";
import type { Engine } from "../../engines/port.ts";
import type { ContainerInfo } from "../../engines/port.ts";
import type { ExecActivity } from "./activity-record.ts";
import { procNetPort } from "../engine-state/readiness.ts";

/** An engine that cannot say what it dropped (EventClient.heldSince): a full answer of this many may have lost older ones. */
const ENGINE_EVENT_BUFFER = 256;

/**
 * When each sandbox was last active, from the engine's own record of exec
 * starts and ends, so that a restarted agent knows as much as a running one.
 * `complete` is false when the engine may have dropped some of them; every
 * one it dropped came before `heldSinceMs`, so a sandbox with none left was
 * last active before then (undefined where the engine cannot tell).
 */
export async function lastExecActivity(
  docker: Engine,
  sinceMs: number,
  nowMs: number,
  /** Each sandbox's health-check command line: the engine's own execs are not activity. */
  healthChecks: ReadonlyMap<string, string> = new Map(),
): Promise<ExecActivity> {
  const events = await docker.events.containerEvents({
    sinceMs,
    untilMs: nowMs,
    // A resume is activity too: the sandbox was wanted, and its idle time starts again.
    actions: ["exec_start", "exec_die", "unpause"],
    labels: { "sandfleet.managed": "true" },
  });
  // The engine's buffer holds every kind of event, and a flood of others' (records made and removed,
  // other containers) pushes a sandbox's execs out while the answer about execs stays short. Asked
  // after it: whatever was pushed out before that answer was pushed out before this one too.
  const heldSinceMs = await docker.events.heldSince?.();
  const healthExecs = new Set(
    events
      .filter((e) => e.action === "exec_start" && e.detail === healthChecks.get(e.containerId))
      .map((e) => e.execId),
  );
  const byContainer = new Map<string, number>();
  for (const event of events) {
    if (event.execId !== undefined && healthExecs.has(event.execId)) continue;
    byContainer.set(event.containerId, Math.max(byContainer.get(event.containerId) ?? 0, event.timeMs));
  }
  const complete = heldSinceMs === undefined ? events.length < ENGINE_EVENT_BUFFER : heldSinceMs <= sinceMs;
  return { byContainer, complete, heldSinceMs };
}

/** Whether any exec is running in the sandbox now. */
export async function hasRunningExec(docker: Engine, container: ContainerInfo): Promise<boolean> {
  const execs = await Promise.all(container.execIds.map((id) => docker.exec.inspect(id)));
  return execs.some((exec) => exec?.running === true);
}

/** A TCP socket on one of the sandbox's published ports, from the kernel's table (/proc/net/tcp). */
interface TunnelSocket {
  /** The kernel's state code: 01 established, 0A listening. */
  state: string;
  /** Bytes waiting to be read; for a listening socket, connections waiting to be accepted. */
  waiting: number;
}

/**
 * The sockets on the sandbox's published ports, read from its network
 * namespace on this host: readable while it is paused too. Empty for a
 * remote engine, whose /proc is not here.
 */
function tunnelSockets(container: ContainerInfo): TunnelSocket[] {
  const ports = Object.keys(container.ports).map((p) => Number(p));
  if (ports.length === 0 || container.pid <= 0) return [];
  const hexPorts = new Set(ports.map(procNetPort));
  const sockets: TunnelSocket[] = [];
  for (const table of ["tcp", "tcp6"]) {
    let text: string;
    try {
      text = readFileSync(`/proc/${String(container.pid)}/net/${table}`, "utf8");
    } catch {
      return sockets;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      const localPort = cols[1]?.split(":")[1];
      if (!localPort || !hexPorts.has(localPort) || cols[3] === undefined) continue;
      sockets.push({ state: cols[3], waiting: parseInt(cols[4]?.split(":")[1] ?? "0", 16) });
    }
  }
  return sockets;
}

/** Whether a connection through a tunnel (a published port) is open. */
export function hasOpenTunnelConnection(container: ContainerInfo): boolean {
  return tunnelSockets(container).some((s) => s.state === "01");
}

/**
 * Whether someone is waiting on a paused sandbox through a tunnel: a
 * connection not yet accepted, or bytes not yet read. A connection left open
 * from before the pause, with nothing sent since, is not a reason to wake it.
 */
export function hasTunnelTrafficWaiting(container: ContainerInfo): boolean {
  return tunnelSockets(container).some((s) => (s.state === "0A" || s.state === "01") && s.waiting > 0);
}
