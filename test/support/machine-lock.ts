import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { until } from "./until.ts";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Holds a lock shared by every process on this machine (test files run in
 * several workers), for a resource there is one of: a directory made
 * atomically, holding its owner's pid, so a lock whose owner died is taken
 * over. Resolves to its release.
 */
export async function machineLock(name: string, timeoutMs: number): Promise<() => void> {
  const dir = `/tmp/sandfleet-test-lock-${name}`;
  const take = (): boolean => {
    try {
      mkdirSync(dir);
      writeFileSync(`${dir}/pid`, String(process.pid));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      let owner: number;
      try {
        owner = Number(readFileSync(`${dir}/pid`, "utf8"));
      } catch {
        return false; // its owner is still writing the pid
      }
      if (Number.isInteger(owner) && owner > 0 && !alive(owner)) rmSync(dir, { recursive: true, force: true });
      return false;
    }
  };
  await until(`the machine-wide lock ${name}`, () => Promise.resolve(take()), timeoutMs);
  return () => {
    rmSync(dir, { recursive: true, force: true });
  };
}
