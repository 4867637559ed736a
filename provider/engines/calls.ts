import { NotFoundError, type SandfleetError } from "../errors.ts";
import { readAll } from "../streams.ts";
import type { ExecProcess, ExecResult } from "./port.ts";

/** Socket errors that mean the engine cannot be reached, whichever engine it is. */
const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ENOENT",
  "EACCES",
  "ECONNRESET",
  "EPIPE",
  "EHOSTUNREACH",
  "ETIMEDOUT",
]);

/** The socket error code of a failed call (on the error, or on its cause), when it says the engine is unreachable. */
export function unreachableCode(error: unknown): string | undefined {
  const code =
    (error as NodeJS.ErrnoException | undefined)?.code ??
    (error as { cause?: NodeJS.ErrnoException } | undefined)?.cause?.code;
  return typeof code === "string" && UNREACHABLE_CODES.has(code) ? code : undefined;
}

export type EngineCall = <T>(what: string, call: () => Promise<T>) => Promise<T>;
export type EngineLookup = <T>(what: string, call: () => Promise<T>) => Promise<T | undefined>;

/**
 * An engine's call (its failure translated into sandfleet's error classes)
 * and lookup (the same, but absent is `undefined`: for inspect-or-absent reads).
 */
export function translatedCalls(translate: (error: unknown, what: string) => SandfleetError): {
  call: EngineCall;
  lookup: EngineLookup;
} {
  return {
    async call(what, fn) {
      try {
        return await fn();
      } catch (error) {
        throw translate(error, what);
      }
    },
    async lookup(what, fn) {
      try {
        return await fn();
      } catch (error) {
        const translated = translate(error, what);
        if (translated instanceof NotFoundError) return undefined;
        throw translated;
      }
    },
  };
}

/** Waits for an exec to end, with all it wrote. */
export async function runToEnd(process: ExecProcess): Promise<ExecResult> {
  const [stdout, stderr, exitCode] = await Promise.all([
    readAll(process.stdout),
    readAll(process.stderr),
    process.wait(),
  ]);
  return { exitCode, stdout: stdout.toString("utf8"), stderr: stderr.toString("utf8") };
}
