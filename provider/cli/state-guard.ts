import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

/*
 * Before `up`, `preview` or `destroy` on Pulumi's local file backend,
 * sandfleet checks the stack's files for what a killed `pulumi` leaves
 * behind, and says the exact recovery instead of letting pulumi fail with
 * "failed to load checkpoint: EOF":
 *   - a state file cut short while being written, plain or gzip-compressed;
 *     the recovery names the newest whole copy (the `.bak`, else the newest
 *     whole checkpoint in the stack's history); its `.attrs` sidecar cut short
 *     beside a whole state is removed (pulumi writes it again);
 *   - a lock whose process is gone, or whose pid now belongs to another
 *     program (removed: nothing holds it);
 *   - a lock held by a live pulumi (refused: never cancelled under it);
 *   - an update that was interrupted (pending operations: the next `up` or
 *     `destroy` finishes it, and pulumi drops them from the state).
 */

export interface StateFinding {
  /** "fatal" stops the verb; "note" is said and the verb goes on. */
  severity: "fatal" | "note";
  /** What was found: a damaged state, a lock, or pending operations of an interrupted update. */
  kind: "damaged" | "lock" | "pending";
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
    const attrs = `${path}.attrs`;
    // The sidecar is pulumi's summary of the state, which it writes again on the next update and does
    // without meanwhile; cut short, it stops every pulumi verb ("failed to load checkpoint").
    if (isWholeJson(path, file.endsWith(".gz")) && existsSync(attrs) && !isWholeJson(attrs, false)) {
      rmSync(attrs, { force: true });
      findings.push({
        severity: "note",
        kind: "damaged",
        message: `removed ${attrs}, cut short by a pulumi that was killed while writing it: the state beside it is whole, and pulumi writes its summary again on the next update.`,
      });
    }
    const damaged = [path, attrs].find((p) => existsSync(p) && !isWholeJson(p, file.endsWith(".gz") && p === path));
    if (damaged)
      findings.push({
        severity: "fatal",
        kind: "damaged",
        message: damagedStateMessage(stack, damaged, path, backendDir, project),
      });
    else findings.push(...pendingOperations(path));
  }
  findings.push(...lockFindings(join(backendDir, ".pulumi", "locks"), project, stack));
  return findings;
}

/** A state file's JSON, or undefined when it is empty, cut short or not JSON. */
function readStateJson(path: string, compressed: boolean): unknown {
  try {
    const raw = readFileSync(path);
    // gunzip checks the stream's length and checksum: a file cut short throws.
    const text = (compressed ? gunzipSync(raw) : raw).toString("utf8");
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isWholeJson(path: string, compressed: boolean): boolean {
  return statSync(path).size > 0 && readStateJson(path, compressed) !== undefined;
}

/**
 * The newest whole copy of a stack's state: its `.bak`, else the newest whole
 * checkpoint pulumi kept in the stack's history (same format as the state file).
 */
function wholeCopy(state: string, backendDir: string, project: string, stack: string): string | undefined {
  const candidates: string[] = [`${state}.bak`];
  const history = join(backendDir, ".pulumi", "history", project, stack);
  if (existsSync(history)) {
    candidates.push(
      ...readdirSync(history)
        .filter((f) => /\.checkpoint\.json(\.gz)?$/.test(f))
        .sort()
        .reverse()
        .map((f) => join(history, f)),
    );
  }
  return candidates.find((c) => existsSync(c) && isWholeJson(c, c.endsWith(".gz")));
}

function damagedStateMessage(
  stack: string,
  damaged: string,
  state: string,
  backendDir: string,
  project: string,
): string {
  const lines = [
    `the state of stack "${stack}" is damaged: ${damaged} is ${statSync(damaged).size === 0 ? "empty" : "cut short"}.`,
    "A pulumi run was killed while writing it. Nothing was changed; to recover:",
  ];
  const copy = wholeCopy(state, backendDir, project, stack);
  if (copy) {
    // The copy keeps its own compression: the state file takes the matching name.
    const base = state.replace(/\.gz$/, "");
    const target = copy.endsWith(".gz") ? `${base}.gz` : base;
    lines.push(`  rm -f ${base} ${base}.gz ${base}.attrs ${base}.gz.attrs && cp ${copy} ${target}`);
  } else {
    lines.push(
      `  rm -f ${state}.attrs, then restore ${state} from a backup, or \`pulumi stack import\` an export of it`,
    );
  }
  lines.push(
    "then run `sandfleet refresh` so the state matches the engine again; the next `sandfleet up` adopts what " +
      "was made after that copy (found by its labels) instead of making it twice.",
  );
  return lines.join("\n");
}

interface PendingOperation {
  type?: string;
  resource?: { urn?: string };
}

/** The operations an interrupted update left pending in a state file. */
export function pendingOperationsOf(path: string): PendingOperation[] {
  const state = readStateJson(path, path.endsWith(".gz")) as
    { checkpoint?: { latest?: { pending_operations?: PendingOperation[] } } } | undefined;
  return state?.checkpoint?.latest?.pending_operations ?? [];
}

function pendingOperations(path: string): StateFinding[] {
  const pending = pendingOperationsOf(path);
  if (pending.length === 0) return [];
  const names = pending.map((op) => `${op.type ?? "?"} ${(op.resource?.urn ?? "").split("::").pop() ?? ""}`);
  return [
    {
      severity: "note",
      kind: "pending",
      message:
        `the last update was interrupted during ${String(pending.length)} operation(s): ${names.join(", ")}. ` +
        "This run finishes it: what was half-made is adopted or replaced, nothing is made twice.",
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
      const reused = here && lock.pid !== undefined && isAlive(lock.pid) ? pidReused(lock.pid, lock.timestamp) : false;
      if (here && lock.pid !== undefined && isAlive(lock.pid) && !reused) {
        findings.push({
          severity: "fatal",
          kind: "lock",
          message:
            `stack "${stack}" is locked by a running pulumi (pid ${String(lock.pid)}, since ${lock.timestamp ?? "?"}). ` +
            `Wait for it to finish; if it is stuck, stop it first (kill ${String(lock.pid)}), then run this again.`,
        });
      } else if (here || lock.pid === undefined) {
        rmSync(path, { force: true });
        rmSync(`${path}.attrs`, { force: true });
        findings.push({
          severity: "note",
          kind: "lock",
          message:
            `removed a stale lock of stack "${stack}" (${path}): the pulumi that held it (pid ${String(lock.pid ?? "?")}) is gone` +
            (reused ? `; that pid now belongs to another program (${reused})` : "") +
            ".",
        });
      } else {
        findings.push({
          severity: "fatal",
          kind: "lock",
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

/**
 * Why a live pid is not the pulumi that took a lock, or false when it may be:
 * pids are reused, so a lock's pid can name an innocent process by now. On
 * Linux the process's name and start time tell; elsewhere it is taken as the holder.
 */
function pidReused(pid: number, lockedAt: string | undefined): string | false {
  let comm: string;
  let stat: string;
  let bootSeconds: number;
  try {
    comm = readFileSync(`/proc/${String(pid)}/comm`, "utf8").trim();
    stat = readFileSync(`/proc/${String(pid)}/stat`, "utf8");
    const btime = /^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"));
    if (!btime) return false;
    bootSeconds = Number(btime[1]);
  } catch {
    return false;
  }
  if (!comm.startsWith("pulumi")) return `${comm}, not pulumi`;
  // Field 22, after the parenthesised name (which may hold spaces): start time in ticks since boot.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[19]);
  const locked = lockedAt ? Date.parse(lockedAt) : NaN;
  if (!Number.isFinite(ticks) || !Number.isFinite(locked)) return false;
  // USER_HZ is 100 on every architecture Linux runs pulumi on.
  const startedMs = (bootSeconds + ticks / 100) * 1000;
  // A second of slack for the clock's resolution: the holder started before it wrote the lock.
  return startedMs > locked + 1000 ? `a pulumi started after the lock was taken` : false;
}
