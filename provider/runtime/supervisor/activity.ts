import type { DockerClient } from "../../docker/client.ts";
import { supervisorConnection } from "./connections.ts";

/** A sandbox's activity as its supervisor sees it (supervisor/lifetime's Idleness). */
export interface SupervisorActivity {
  /** Operations running now: commands, file calls, engine execs, tunnel connections. */
  running: number;
  /** How long nothing has run; 0 while something runs or before the lifetime started. */
  idleForMs: number;
  /** Commands started since the sandbox began. */
  execs: number;
}

export async function supervisorActivity(docker: DockerClient, containerId: string): Promise<SupervisorActivity> {
  const { result } = await (await supervisorConnection(docker, containerId)).call({ op: "activity" });
  const reply = result as Partial<SupervisorActivity>;
  return { running: reply.running ?? 0, idleForMs: reply.idleForMs ?? 0, execs: reply.execs ?? 0 };
}

/** Tells the supervisor the sandbox was just used, so that its idle time starts again. */
export async function touchSupervisor(docker: DockerClient, containerId: string): Promise<void> {
  await (await supervisorConnection(docker, containerId)).call({ op: "touch" });
}
