/**
 * Durations as users write them: `500ms`, `30s`, `5m`, `24h`. Zero has the
 * form too, so that its range is told by the same rule as the API's `0`.
 */
export const DURATION_PATTERN = "^(0|[1-9][0-9]*)(ms|s|m|h)$";
const DURATION = new RegExp(DURATION_PATTERN);
const DURATION_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text);
  if (!match) return undefined;
  return Number(match[0].replace(/[a-z]+$/, "")) * DURATION_MS[match[2] as keyof typeof DURATION_MS];
}

/** Sizes as users write them: `512Mi`, `2Gi` (and `0Mi`, refused by the range of each size). */
export const SIZE_PATTERN = "^(0|[1-9][0-9]*)(Mi|Gi)$";

export function parseSizeMiB(text: string): number | undefined {
  const match = new RegExp(SIZE_PATTERN).exec(text);
  if (!match) return undefined;
  return Number(text.slice(0, -2)) * (match[2] === "Gi" ? 1024 : 1);
}
