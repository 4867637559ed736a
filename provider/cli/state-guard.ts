import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";

/*
 * Before `up`, `preview` or `destroy` on Pulumi's local file backend,
 * sandfleet checks the stack's files for what a killed `pulumi` leaves
 * behind, and says the exact recovery instead of letting pulumi fail with
 * "failed to load checkpoint: EOF":
 *   - a state file (or its `.attrs` sidecar) cut short while being written;
 *   - a lock whose process is gone (removed: nothing holds it);
 *   - a lock held by a live process (refused: never cancelled under it);
 *   - an update that was interrupted (pending operations: the next `up` continues it).
 */

export interface StateFinding {
  /** "fatal" stops the verb; "note" is said and the verb goes on. */
  severity: "fatal" | "note";
  message: string;
}

interface LockFile {
  pid?: number;
  hostname?: string;
  timestamp?: string;
}

/** The local backend's root for a `file://` URL, else undefined (a remote backend checks itself). */
export function localBackendDir(url: string): string | undefined {
  return url.startsWith("file://") ? url.slice("file://".length) || "/" : undefined;
}

export function checkLocalState(backendDir: string, project: string, stack: string): StateFinding[] {
  const findings: StateFinding[] = [];
  const stacksDir = join(backendDir, ".pulumi", "stacks", project);
  for (const file of [`${stack}.json`, `${stack}.json.gz`]) {
    const path = join(stacksDir, file);
    if (!existsSync(path)) continue;
    const damaged = [path, `${path}.attrs`].find(
      (p) => existsSync(p) && !isWholeJson(p, file.endsWith(".gz") && p === path),
    );
    if (damaged)
      findings.push({ severity: "fatal", message: damagedStateMessage(stack, damaged, path, backendDir, project) });
    else findings.push(...pendingOperations(path, file.endsWith(".gz")));
  }
  findings.push(...lockFindings(join(backendDir, ".pulumi", "locks"), project, stack));
  return findings;
}

function isWholeJson(path: string, compressed: boolean): boolean {
  if (statSync(path).size === 0) return false;
  if (compressed) return true;
  try {
    JSON.parse(readFileSync(path, "utf8"));
    return true;
  } catch {
    return false;
  }
}

function damagedStateMessage(
  stack: string,
  damaged: string,
  state: string,
  backendDir: string,
  project: string,
): string {
  const backup = `${state}.bak`;
  const lines = [
    `the state of stack "${stack}" is damaged: ${damaged} is ${statSync(damaged).size === 0 ? "empty" : "cut short"}.`,
    "A pulumi run was killed while writing it. Nothing was changed; to recover:",
  ];
  if (existsSync(backup) && isWholeJson(backup, false)) {
    lines.push(`  cp ${backup} ${state} && rm -f ${state}.attrs`);
  } else {
    const history = join(backendDir, ".pulumi", "history", project, stack);
    const latest = existsSync(history)
      ? readdirSync(history)
          .filter((f) => f.endsWith(".checkpoint.json"))
          .sort()
          .pop()
      : undefined;
    lines.push(
      latest
        ? `  rm -f ${state} ${state}.attrs && pulumi stack import --stack ${stack} --file ${join(history, latest)}`
        : `  rm -f ${state}.attrs, then restore ${state} from a backup, or \`pulumi stack import\` an export of it`,
    );
  }
  lines.push("then run `pulumi refresh` so the state matches the engine again.");
  return lines.join("\n");
}

function pendingOperations(path: string, compressed: boolean): StateFinding[] {
  if (compressed) return [];
  const state = JSON.parse(readFileSync(path, "utf8")) as {
    checkpoint?: { latest?: { pending_operations?: { type?: string; resource?: { urn?: string } }[] } };
  };
  const pending = state.checkpoint?.latest?.pending_operations ?? [];
  if (pending.length === 0) return [];
  const names = pending.map((op) => `${op.type ?? "?"} ${(op.resource?.urn ?? "").split("::").pop() ?? ""}`);
  return [
    {
      severity: "note",
      message:
        `the last update was interrupted during ${String(pending.length)} operation(s): ${names.join(", ")}. ` +
        "This run continues it: what was half-made is adopted or replaced, nothing is made twice.",
    },
  ];
}

function lockFindings(locksDir: string, project: string, stack: string): StateFinding[] {
  // Locks live under locks/<project>/<stack>/ (older layouts add an organization level above).
  const dirs = [join(locksDir, project, stack), join(locksDir, "organization", project, stack)];
  const findings: StateFinding[] = [];
  for (const dir of dirs.filter((d) => existsSync(d))) {
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".json"))) {
      const path = join(dir, file);
      let lock: LockFile = {};
      try {
        lock = JSON.parse(readFileSync(path, "utf8")) as LockFile;
      } catch {
        // An unreadable lock was cut short as it was written: its writer died.
      }
      const here = lock.hostname === hostname();
      if (here && lock.pid !== undefined && isAlive(lock.pid)) {
        findings.push({
          severity: "fatal",
          message:
            `stack "${stack}" is locked by a running pulumi (pid ${String(lock.pid)}, since ${lock.timestamp ?? "?"}). ` +
            `Wait for it to finish; if it is stuck, stop it first (kill ${String(lock.pid)}), then run this again.`,
        });
      } else if (here || lock.pid === undefined) {
        rmSync(path, { force: true });
        rmSync(`${path}.attrs`, { force: true });
        findings.push({
          severity: "note",
          message: `removed a stale lock of stack "${stack}" (${path}): the pulumi that held it (pid ${String(lock.pid ?? "?")}) is gone.`,
        });
      } else {
        findings.push({
          severity: "fatal",
          message:
            `stack "${stack}" is locked by pulumi pid ${String(lock.pid)} on host ${lock.hostname ?? "?"} (since ${lock.timestamp ?? "?"}). ` +
            `If nothing runs there any more: pulumi cancel --stack ${stack} --yes`,
        });
      }
    }
  }
  return findings;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
