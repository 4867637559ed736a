/** Why sandfleet ended a sandbox itself. */
export type EndReason = "timeout" | "idle";

// The reason is kept in the container's name, a fact on the engine that
// survives restarts of whoever ended it; labels cannot change after create.
const ENDED = /\.ended-(timeout|idle)$/;

export function endedName(name: string, reason: EndReason): string {
  return `${name.replace(ENDED, "")}.ended-${reason}`;
}

export function endReasonOf(containerName: string): EndReason | undefined {
  return ENDED.exec(containerName)?.[1] as EndReason | undefined;
}
