import { SandfleetError } from "../errors.ts";
import type { FullProvider } from "./delegate.ts";

/**
 * Pulumi's dynamic-provider host prints a failed check, diff, read or update
 * as `${error}: ${error.stack}`: the class name and message twice, then a
 * stack trace. For errors sandfleet expects (an unreachable engine, a bad
 * input, a probe that failed) that is noise around one sentence, so they leave
 * the provider as `sandfleet: <message>`. Anything else, a bug, keeps its trace.
 */
export function withPlainErrors(provider: FullProvider): FullProvider {
  const plain =
    <A extends unknown[], R>(method: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await method(...args);
      } catch (error) {
        throw plainError(error);
      }
    };
  return {
    check: plain(provider.check),
    diff: plain(provider.diff),
    create: plain(provider.create),
    read: plain(provider.read),
    update: plain(provider.update),
    delete: plain(provider.delete),
  };
}

function plainError(error: unknown): unknown {
  // A create that failed after making something carries its id (see initFailure): also expected.
  const expected = error instanceof SandfleetError || (error instanceof Error && "id" in error);
  if (!expected) return error;
  error.stack = error.message;
  Object.defineProperty(error, "toString", { value: () => "sandfleet" });
  return error;
}
