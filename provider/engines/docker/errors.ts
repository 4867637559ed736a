import {
  ConflictError,
  EngineError,
  EngineUnavailableError,
  InvalidArgumentError,
  NotFoundError,
  SandfleetError,
} from "../../errors.ts";

import { translatedCalls, unreachableCode } from "../calls.ts";
import { EngineHttpError } from "./http.ts";

/**
 * Translates what a call to the engine throws into sandfleet's error classes,
 * with the engine's own message kept and `what` saying which operation failed.
 */
export function translateDockerError(error: unknown, what: string): SandfleetError {
  if (error instanceof SandfleetError) return error;
  const code = unreachableCode(error);
  // What the transport itself said, where it says more than a code (ssh's own message).
  const detail = (error as { detail?: unknown } | undefined)?.detail;
  if (code) {
    return new EngineUnavailableError(`${what}: ${UNREACHABLE} (${typeof detail === "string" ? detail : code})`);
  }
  const engineMessage = (error instanceof Error ? error.message : String(error)).trim();
  switch (error instanceof EngineHttpError ? error.statusCode : undefined) {
    case 400:
      return new InvalidArgumentError(`${what}: ${engineMessage}`);
    case 404:
      return new NotFoundError(`${what}: ${engineMessage}`);
    case 409:
      return new ConflictError(`${what}: ${engineMessage}`);
    default:
      return new EngineError(`${what}: ${engineMessage}`);
  }
}

const UNREACHABLE = "the Docker engine is unreachable";

/**
 * Names the engine in an unreachable-engine error. The client knows which
 * engine it talks to; the socket error alone often does not say (a reset
 * connection carries no address).
 */
function withEngineName(error: unknown, host: string): unknown {
  if (!(error instanceof EngineUnavailableError) || !error.message.includes(UNREACHABLE)) return error;
  return new EngineUnavailableError(error.message.replace(UNREACHABLE, `the Docker engine at ${host} is unreachable`));
}

/** The same client, with every failure of its methods passed through withEngineName. */
export function namingEngine<T extends object>(client: T, host: string): T {
  const named = (method: (...args: unknown[]) => Promise<unknown>) => {
    return async (...args: unknown[]): Promise<unknown> => {
      try {
        return await method.apply(client, args);
      } catch (error) {
        throw withEngineName(error, host);
      }
    };
  };
  // A stream of results (an async generator) names the engine in a failure midway too.
  const namedStream = (method: (...args: unknown[]) => AsyncIterable<unknown>) => {
    return async function* (...args: unknown[]): AsyncGenerator {
      try {
        yield* method.apply(client, args);
      } catch (error) {
        throw withEngineName(error, host);
      }
    };
  };
  const entries = Object.entries(client).map(([key, value]: [string, unknown]) => [
    key,
    typeof value !== "function"
      ? value
      : value.constructor.name === "AsyncGeneratorFunction"
        ? namedStream(value as (...args: unknown[]) => AsyncIterable<unknown>)
        : named(value as (...args: unknown[]) => Promise<unknown>),
  ]);
  return Object.fromEntries(entries) as T;
}

/** Runs an engine call and translates its failure; engineLookup: the same, but a 404 is `undefined`. */
export const { call: engineCall, lookup: engineLookup } = translatedCalls(translateDockerError);
