import { mkdirSync } from "node:fs";
import { DirLock } from "../../provider/runtime/local/dir-lock.ts";
import { ConflictError } from "../../provider/errors.ts";
import { until } from "./until.ts";

/**
 * Holds a lock shared by every process on this machine (test files run in
 * several workers), for a resource there is one of: the agent's own
 * directory lock, whose holder's death (or reused pid) hands it on.
 * Resolves to its release.
 */
export async function machineLock(name: string, timeoutMs: number): Promise<() => void> {
  const dir = `/tmp/sandfleet-test-lock-${name}`;
  mkdirSync(dir, { recursive: true });
  let held: DirLock | undefined;
  await until(
    `the machine-wide lock ${name}`,
    () => {
      try {
        held = DirLock.take(dir, name).lock;
        return Promise.resolve(true);
      } catch (error) {
        if (error instanceof ConflictError) return Promise.resolve(false);
        throw error;
      }
    },
    timeoutMs,
  );
  return () => {
    held?.release();
  };
}
