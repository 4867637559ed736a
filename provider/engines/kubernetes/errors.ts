import {
  ConflictError,
  EngineError,
  EngineUnavailableError,
  InvalidArgumentError,
  NotFoundError,
  SandfleetError,
} from "../../errors.ts";
import { type EngineCall, type EngineLookup, translatedCalls, unreachableCode } from "../calls.ts";

/** The API server's own words: its Status message, else what the client said. */
function serverMessage(error: unknown): string {
  const body = (error as { body?: unknown }).body;
  if (typeof body === "string") {
    try {
      const status = JSON.parse(body) as { message?: string };
      if (status.message) return status.message;
    } catch {
      return body;
    }
  }
  if (body && typeof body === "object" && typeof (body as { message?: unknown }).message === "string") {
    return (body as { message: string }).message;
  }
  return errorText(error).trim();
}

/** Words for anything thrown: an Error's message, an event's `message`, never "[object Object]". */
export function errorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === "object" && error !== null) {
    const { message, error: inner } = error as { message?: unknown; error?: unknown };
    if (typeof message === "string" && message) return message;
    if (inner instanceof Error) return inner.message;
    try {
      return JSON.stringify(error).slice(0, 300);
    } catch {
      return Object.prototype.toString.call(error);
    }
  }
  return String(error);
}

/** Translates what a call to the API server throws into sandfleet's error classes, naming the operation and the cluster. */
export function translateKubernetesError(error: unknown, what: string, host: string): SandfleetError {
  if (error instanceof SandfleetError) return error;
  const code = unreachableCode(error);
  if (code) {
    return new EngineUnavailableError(`${what}: the Kubernetes API server of ${host} is unreachable (${code})`);
  }
  const status = (error as { code?: unknown }).code;
  const message = serverMessage(error);
  switch (typeof status === "number" ? status : undefined) {
    case 400:
    case 422:
      return new InvalidArgumentError(`${what}: ${message}`);
    case 404:
      return new NotFoundError(`${what}: ${message}`);
    case 409:
      return new ConflictError(`${what}: ${message}`);
    default:
      if (/fetch failed|ECONNREFUSED|socket hang up/.test(message)) {
        return new EngineUnavailableError(`${what}: the Kubernetes API server of ${host} is unreachable (${message})`);
      }
      return new EngineError(`${what} on ${host}: ${message}`);
  }
}

export type KubeCall = EngineCall;
export type KubeLookup = EngineLookup;

/** engineCall and engineLookup (404 → undefined) for one cluster. */
export function kubeCalls(host: string): { call: KubeCall; lookup: KubeLookup } {
  return translatedCalls((error, what) => translateKubernetesError(error, what, host));
}
