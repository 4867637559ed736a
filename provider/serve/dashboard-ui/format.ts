/** 42s, 3m 5s, 2h 10m. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${String(s)}s`;
  if (s < 3600) return `${String(Math.floor(s / 60))}m ${String(s % 60)}s`;
  return `${String(Math.floor(s / 3600))}h ${String(Math.floor((s % 3600) / 60))}m`;
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}

/** "in 4m 10s (14:02:11)", or "passed" once it has. */
export function deadline(deadlineMs: number | undefined, nowMs: number): string {
  if (deadlineMs === undefined) return "none";
  const at = new Date(deadlineMs).toLocaleTimeString();
  return deadlineMs > nowMs ? `in ${duration(deadlineMs - nowMs)} (${at})` : `passed (${at})`;
}

/** How long a sandbox has been idle now, from what its supervisor said and when; "busy" while something runs. */
export function idleNow(idle: { idleForMs: number; running: number; atMs: number } | undefined, nowMs: number): string {
  if (!idle) return "";
  if (idle.running > 0) return "busy";
  return duration(idle.idleForMs + Math.max(0, nowMs - idle.atMs));
}
