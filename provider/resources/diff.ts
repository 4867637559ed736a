import { isDeepStrictEqual } from "node:util";

/** The input keys whose values differ; a key absent on one side and undefined on the other is equal. */
export function changedKeys(
  olds: Record<string, unknown>,
  news: Record<string, unknown>,
  keys: readonly string[],
): string[] {
  return keys.filter((key) => !isDeepStrictEqual(olds[key] ?? null, news[key] ?? null));
}

/** Keeps only the given keys, dropping undefined values: the inputs part of a state. */
export function pick(source: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((key) => source[key] !== undefined).map((key) => [key, source[key]]));
}
