import type { Engine } from "../../engines/port.ts";
import { TimeoutError } from "../../errors.ts";
import { supervisorConnection } from "./connections.ts";
import { OP, type Activity } from "./protocol.ts";

/**
 * A sandbox's activity as its supervisor sees it (the protocol's Activity):
 * `running` counts operations running now (commands, file calls, engine
 * execs, tunnel connections); `idleForMs` is how long nothing has run, 0
 * while something runs or before the lifetime started; `execs` counts the
 * commands started since the sandbox began.
 */
export type SupervisorActivity = Activity;

/** How long an observer waits for an answer: a sandbox paused meanwhile answers only once resumed. */
const ANSWER_WITHIN_MS = 2000;

/** What the supervisor says of its activity; asking never thaws a paused sandbox. */
export async function supervisorActivity(docker: Engine, containerId: string): Promise<SupervisorActivity> {
  const connection = await supervisorConnection(docker, containerId);
  let timer: NodeJS.Timeout | undefined;
  const { result } = await Promise.race([
    connection.call({ op: OP.activity }, undefined, { wakes: false }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new TimeoutError(`the supervisor of ${containerId.slice(0, 12)} did not answer (paused?)`));
      }, ANSWER_WITHIN_MS);
    }),
  ]).finally(() => {
    clearTimeout(timer);
  });
  return { running: result?.running ?? 0, idleForMs: result?.idleForMs ?? 0, execs: result?.execs ?? 0 };
}

/** Tells the supervisor the sandbox was just used, so that its idle time starts again. */
export async function touchSupervisor(docker: Engine, containerId: string): Promise<void> {
  await (await supervisorConnection(docker, containerId)).call({ op: OP.touch });
}
