import type { Engine } from "../../engines/port.ts";
import { TimeoutError } from "../../errors.ts";
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

/** How long an observer waits for an answer: a sandbox paused meanwhile answers only once resumed. */
const ANSWER_WITHIN_MS = 2000;

/** What the supervisor says of its activity; asking never thaws a paused sandbox. */
export async function supervisorActivity(docker: Engine, containerId: string): Promise<SupervisorActivity> {
  const connection = await supervisorConnection(docker, containerId);
  let timer: NodeJS.Timeout | undefined;
  const { result } = await Promise.race([
    connection.call({ op: "activity" }, undefined, { wakes: false }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new TimeoutError(`the supervisor of ${containerId.slice(0, 12)} did not answer (paused?)`));
      }, ANSWER_WITHIN_MS);
    }),
  ]).finally(() => {
    clearTimeout(timer);
  });
  const reply = result as Partial<SupervisorActivity>;
  return { running: reply.running ?? 0, idleForMs: reply.idleForMs ?? 0, execs: reply.execs ?? 0 };
}

/** Tells the supervisor the sandbox was just used, so that its idle time starts again. */
export async function touchSupervisor(docker: Engine, containerId: string): Promise<void> {
  await (await supervisorConnection(docker, containerId)).call({ op: "touch" });
}
