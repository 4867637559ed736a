/** Prints rows as an aligned table for people. */
export function printTable(columns: string[], rows: string[][]): void {
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  // One write: a line at a time costs a system call (and console's formatting) per row.
  process.stdout.write([columns, ...rows].map(line).join("\n") + "\n");
}

export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

export function age(sinceIso: string, nowMs = Date.now()): string {
  const seconds = Math.max(0, Math.round((nowMs - Date.parse(sinceIso)) / 1000));
  if (seconds < 120) return `${String(seconds)}s`;
  if (seconds < 7200) return `${String(Math.round(seconds / 60))}m`;
  if (seconds < 172800) return `${String(Math.round(seconds / 3600))}h`;
  return `${String(Math.round(seconds / 86400))}d`;
}
