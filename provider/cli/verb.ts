import type { ParseArgsConfig } from "node:util";

export type Options = NonNullable<ParseArgsConfig["options"]>;
export type Values = Record<string, string | boolean | string[] | boolean[] | undefined>;

/** Exit codes every verb keeps to. */
export const EXIT = {
  ok: 0,
  /** The operation failed, or what was checked is invalid. */
  failed: 1,
  usage: 2,
  notFound: 3,
  engineUnavailable: 4,
} as const;

export interface VerbContext {
  values: Values;
  positionals: string[];
  /** What followed `--` on the command line. */
  rest: string[];
  json: boolean;
}

/** One `sandfleet` verb: its help, its options and what it does (its name and summary are in verbs.ts). */
export interface Verb {
  usage: string;
  examples: string[];
  options: Options;
  run(context: VerbContext): Promise<number>;
}

export class UsageError extends Error {
  override readonly name: string = "UsageError";
}

export function stringOption(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

export function listOption(values: Values, name: string): string[] {
  const value = values[name];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

/** `KEY=VALUE` pairs from a repeated option. */
export function pairs(values: string[], what: string): Record<string, string> {
  return Object.fromEntries(
    values.map((pair) => {
      const eq = pair.indexOf("=");
      if (eq <= 0) throw new UsageError(`${what} ${JSON.stringify(pair)} is not KEY=VALUE`);
      return [pair.slice(0, eq), pair.slice(eq + 1)];
    }),
  );
}
