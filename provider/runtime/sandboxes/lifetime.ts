import type { Engine } from "../../engines/port.ts";
import type { ContainerInfo } from "../../engines/port.ts";
import { ConflictError, InvalidArgumentError } from "../../errors.ts";
import { engineEndReason, type EndedReason } from "../engine-state/event-kinds.ts";
import { LABEL } from "../engine-state/labels.ts";
import { endedName, endReasonOf, type EndReason } from "../engine-state/ended-names.ts";
import { systemClock, type Clock } from "../local/poll.ts";
import { wholeSecondsProblem } from "./sandbox-params.ts";
import { writeRecord } from "../engine-state/sandbox-records.ts";
import { supervisorConnection } from "../supervisor/connections.ts";
import { OP } from "../supervisor/protocol.ts";

/** Exit code of a sandbox ended by its timeout or idle timeout, as timeout(1) reports it. */
export const TIMEOUT_EXIT_CODE = 124;

export { endedName, endReasonOf, type EndReason } from "../engine-state/ended-names.ts";

/**
 * Why an ended sandbox ended, where its container alone tells: its timeout
 * or idle timeout (recorded in its name), or the engine's own end (its node
 * lost, an eviction). Undefined while it runs, or when only the engine's
 * events can tell (exit, terminated, oom: see events.ts).
 */
export function containerEndReason(container: ContainerInfo): EndedReason | undefined {
  if (container.running) return undefined;
  return (
    endReasonOf(container.name) ?? (container.trouble?.ended ? engineEndReason(container.trouble.reason) : undefined)
  );
}

/**
 * The exit code a sandbox reports: undefined while it runs; 124 when ended by
 * its timeout or idle timeout; otherwise its own (137 when terminated).
 */
export function reportedExitCode(container: ContainerInfo): number | undefined {
  if (container.running) return undefined;
  return endReasonOf(container.name) ? TIMEOUT_EXIT_CODE : container.exitCode;
}

/** Records the reason, then ends the sandbox. Safe to repeat after a crash between the two. */
export async function endSandbox(docker: Engine, container: ContainerInfo, reason: EndReason): Promise<void> {
  if (endReasonOf(container.name) === undefined)
    await docker.containers.rename(container.id, endedName(container.name, reason));
  await docker.containers.kill(container.id, "SIGKILL");
}

/**
 * Gives a live sandbox a new deadline, `timeoutMs` from now, longer or
 * shorter: a record on the engine that `sandfleet agent` keeps, and the
 * sandbox's supervisor told at once.
 */
export async function setDeadline(
  docker: Engine,
  sandbox: { id: string; app: string; supervised: boolean },
  timeoutMs: number,
  clock: Clock = systemClock,
): Promise<void> {
  const reason = wholeSecondsProblem(timeoutMs);
  if (reason) throw new InvalidArgumentError(`timeoutMs ${reason}`);
  const container = await docker.containers.inspect(sandbox.id);
  if (!container?.running) {
    throw new ConflictError(`sandbox ${sandbox.app}/${sandbox.id.slice(0, 12)} has ended; its lifetime cannot change`);
  }
  const deadline = String(clock.now() + timeoutMs);
  await writeRecord(docker, "deadline", sandbox, { [LABEL.deadline]: deadline }, clock);
  if (sandbox.supervised) await (await supervisorConnection(docker, sandbox.id)).call({ op: OP.lifetime, timeoutMs });
}
