import type { Engine } from "../../engines/port.ts";
import type { ContainerInfo } from "../../engines/port.ts";
import type { AgentEvent } from "../observability/agent-event.ts";
import { hasTunnelTrafficWaiting } from "./idle.ts";
import { LABEL, scopeLabels } from "../engine-state/labels.ts";
import { resumeIfPaused } from "../engine-state/resume.ts";
import { supervisorActivity, touchSupervisor } from "../supervisor/activity.ts";

/** Whether an idle timeout pauses this sandbox rather than ending it. */
export function pausesWhenIdle(container: ContainerInfo): boolean {
  return container.labels[LABEL.idleAction] === "pause";
}

export function isSupervised(container: ContainerInfo): boolean {
  return container.labels[LABEL.supervisor] !== undefined;
}

/**
 * Whether a supervised sandbox has been idle for its idle timeout, as its
 * supervisor counts: exact, where the engine's record would count the
 * supervisor's own connections as execs.
 */
export async function idleBySupervisor(docker: Engine, container: ContainerInfo): Promise<boolean> {
  const idleTimeoutMs = Number(container.labels[LABEL.idleTimeoutMs] ?? 0);
  // Paused or ended meanwhile: not idle on this pass.
  const activity = await supervisorActivity(docker, container.id).catch(() => undefined);
  return idleTimeoutMs > 0 && activity?.running === 0 && activity.idleForMs >= idleTimeoutMs;
}

/**
 * Resumes paused sandboxes that someone is waiting on through a tunnel: a
 * paused sandbox resumes by itself on use, and the agent is what notices a
 * connection, as the client notices an exec or a file call.
 */
export async function wakeOnTunnelTraffic(docker: Engine, app?: string): Promise<AgentEvent[]> {
  const listed = await docker.containers.list(scopeLabels("sandbox", app));
  const paused = await Promise.all(
    listed
      .filter((c) => c.status === "paused" && Object.keys(c.ports).length > 0)
      .map((c) => docker.containers.inspect(c.id)),
  );
  const events: AgentEvent[] = [];
  for (const container of paused) {
    if (!container || !hasTunnelTrafficWaiting(container)) continue;
    if (!(await resumeIfPaused(docker, container.id))) continue;
    if (isSupervised(container)) await touchSupervisor(docker, container.id);
    events.push({ action: "resumed", sandbox: container.name, detail: "a tunnel connection is waiting" });
  }
  return events;
}
