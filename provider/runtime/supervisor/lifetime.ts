import type { Engine } from "../../engines/port.ts";
import { supervisorConnection } from "./connections.ts";
import { OP } from "./protocol.ts";

/**
 * Starts a claimed pool member's lifetime in its supervisor: its timeout
 * and idle timeout count from now. The agent keeps the same bounds from the
 * claim record, should this never arrive.
 */
export async function startLifetime(docker: Engine, containerId: string): Promise<void> {
  await (await supervisorConnection(docker, containerId)).call({ op: OP.lifetime });
}
