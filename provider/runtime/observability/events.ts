import type { Engine } from "../../engines/port.ts";
import { END_DETAIL_ATTRIBUTE, END_REASON_ATTRIBUTE, type EngineEvent } from "../../engines/port.ts";
import { LABEL, scopeLabels } from "../engine-state/labels.ts";
import { KILLED_EXIT_CODE } from "../supervisor/command-contract.ts";
import { endReasonOf, TIMEOUT_EXIT_CODE } from "../sandboxes/lifetime.ts";
import { parseMember } from "../pools/pool.ts";
import { engineEndReason, type EndedReason, type SandboxEvent } from "../engine-state/event-kinds.ts";
import { isCheckpointed } from "../engine-state/resume.ts";

export type { EndedReason, EngineEndReason, SandboxEvent, SandboxEventKind } from "../engine-state/event-kinds.ts";
export { SANDBOX_EVENT_KINDS } from "../engine-state/event-kinds.ts";

const ENGINE_ACTIONS = ["create", "start", "health_status", "rename", "pause", "unpause", "kill", "oom", "die"];

// The supervisor's last line when the sandbox ends by its hand or its command's (supervisor/init.go),
// written once every other process of the sandbox is gone, so no process of it writes after.
const SUPERVISOR_WORDS: readonly [RegExp, EndedReason, number | undefined][] = [
  [/^sandfleet: sandbox ended by its timeout$/, "timeout", TIMEOUT_EXIT_CODE],
  [/^sandfleet: sandbox ended by its idle timeout$/, "idle", TIMEOUT_EXIT_CODE],
  [/^sandfleet: sandbox ended: its command was killed for memory \(oom\)$/, "oom", KILLED_EXIT_CODE],
  [/^sandfleet: sandbox ended: its command exited with (\d+)$/, "exit", undefined],
  [/^sandfleet: sandbox terminated$/, "terminated", KILLED_EXIT_CODE],
];

/**
 * Turns the engine's container events into sandbox events. It keeps, per
 * container, what a later event needs to be told right: a kill or an OOM
 * before its end.
 */
/** How long before a sandbox's end the kernel's kill for memory may come and still be the end's cause. */
const OOM_END_WINDOW_MS = 2000;
/** How many times an end by SIGKILL looks for the engine's `kill`, 50 ms apart. */
const KILL_LOOKS = 4;

export class SandboxEventReader {
  readonly #docker: Engine;
  readonly #killed = new Set<string>();
  /** When the kernel last killed a process of each sandbox for memory (engine time). */
  readonly #oom = new Map<string, number>();
  /** Sandboxes already said to be ready: a later health check (or a flap back to healthy) says nothing again. */
  readonly #ready = new Set<string>();
  /** Sandboxes a checkpoint stopped: their next start is a resume, not a new life. */
  readonly #onDisk = new Set<string>();
  /** Sandboxes said to be paused and not yet resumed (a checkpoint freezes before it stops). */
  readonly #paused = new Set<string>();

  constructor(docker: Engine) {
    this.#docker = docker;
  }

  async read(event: EngineEvent): Promise<SandboxEvent | undefined> {
    const attrs = event.attributes;
    const app = attrs[LABEL.app];
    if (app === undefined || attrs[LABEL.kind] !== "sandbox") return undefined;
    const pool = attrs[LABEL.pool];
    const base = {
      time: new Date(event.timeMs).toISOString(),
      app,
      sandbox: attrs[LABEL.name] ?? attrs.name ?? event.containerId.slice(0, 12),
      id: event.containerId,
      ...(pool !== undefined ? { pool } : {}),
    };
    const memberState = () =>
      pool === undefined
        ? undefined
        : parseMember(app, pool, {
            id: event.containerId,
            name: attrs.name ?? "",
            labels: attrs,
            status: "running",
            createdMs: 0,
            ports: {},
          })?.state;
    switch (event.action) {
      case "create":
        return { ...base, kind: "created" };
      case "start":
        if (this.#onDisk.delete(event.containerId)) {
          this.#paused.delete(event.containerId);
          return { ...base, kind: "resumed" };
        }
        // A sandbox with a probe is ready when it passes; a pool member when it is warm. One
        // without a probe still has a health check (its supervisor answering), which says nothing.
        return attrs[LABEL.readiness] === undefined && pool === undefined ? this.#readyOnce(base) : undefined;
      case "health_status":
        return event.detail === "healthy" && pool === undefined && attrs[LABEL.readiness] !== undefined
          ? this.#readyOnce(base)
          : undefined;
      case "rename": {
        const state = memberState();
        if (state === "warm") return this.#readyOnce(base);
        if (state === "claimed") return { ...base, kind: "claimed" };
        return undefined;
      }
      case "pause":
        this.#paused.add(event.containerId);
        return { ...base, kind: "paused" };
      case "unpause":
        this.#paused.delete(event.containerId);
        return { ...base, kind: "resumed" };
      case "kill":
        this.#killed.add(event.containerId);
        return undefined;
      case "oom":
        this.#oom.set(event.containerId, event.timeMs);
        return undefined;
      case "die": {
        // Stopped by a checkpoint, its memory on disk until its resume: paused, not ended.
        if (await isCheckpointed(this.#docker, event.containerId).catch(() => false)) {
          this.#onDisk.add(event.containerId);
          if (this.#paused.has(event.containerId)) return undefined;
          this.#paused.add(event.containerId);
          return { ...base, kind: "paused" };
        }
        const exitCode = Number(attrs.exitCode ?? 0);
        const reason = await this.#endReason(event, exitCode);
        const detail =
          engineEndReason(attrs[END_REASON_ATTRIBUTE]) === reason ? attrs[END_DETAIL_ATTRIBUTE] : undefined;
        this.#killed.delete(event.containerId);
        this.#oom.delete(event.containerId);
        this.#ready.delete(event.containerId);
        this.#paused.delete(event.containerId);
        return {
          ...base,
          kind: "ended",
          reason,
          exitCode: endReasonOf(attrs.name ?? "") ? TIMEOUT_EXIT_CODE : exitCode,
          ...(detail ? { detail } : {}),
        };
      }
      default:
        return undefined;
    }
  }

  #readyOnce<T extends { id: string }>(base: T): (T & { kind: "ready" }) | undefined {
    if (this.#ready.has(base.id)) return undefined;
    this.#ready.add(base.id);
    return { ...base, kind: "ready" };
  }

  async #endReason(event: EngineEvent, exitCode: number): Promise<EndedReason> {
    const recorded = endReasonOf(event.attributes.name ?? "");
    if (recorded) return recorded;
    // The engine ended it itself (its node lost, an eviction), and says so.
    const byEngine = engineEndReason(event.attributes[END_REASON_ATTRIBUTE]);
    if (byEngine) return byEngine;
    // Someone ended it (terminate, the engine's kill): whatever ran out of memory before in it.
    if (this.#killed.has(event.containerId) || (exitCode === KILLED_EXIT_CODE && (await this.#killLogged(event)))) {
      return "terminated";
    }
    // The supervisor says why, when the end was its own or its command's.
    if (event.attributes[LABEL.supervisor] !== undefined) {
      const said = await this.#lastWords(event.containerId, exitCode);
      if (said) return said;
    }
    // The kernel's kill of the main process comes a moment before its end; one long before was an
    // exec's, which the sandbox outlived, and says nothing about this end.
    const oomAt = this.#oom.get(event.containerId);
    const oomEnded = oomAt !== undefined && event.timeMs - oomAt <= OOM_END_WINDOW_MS;
    if (oomEnded && exitCode === KILLED_EXIT_CODE) return "oom";
    // Killed by a signal: the engine may log its `oom` events after the `die`, so the
    // container's own record decides.
    if (exitCode === KILLED_EXIT_CODE) {
      // The record says "OOM killed" for any process of the container the kernel ever killed: after
      // an exec's, seen here, it no longer tells.
      if (oomAt !== undefined) return "terminated";
      const container = await this.#docker.containers.inspect(event.containerId).catch(() => undefined);
      return container?.oomKilled === true ? "oom" : "terminated";
    }
    return "exit";
  }

  /**
   * Whether the engine logged a `kill` of the container around its end: it logs it once its signal
   * went, which may be after the `die` it caused.
   */
  async #killLogged(event: EngineEvent): Promise<boolean> {
    for (let attempt = 0; attempt < KILL_LOOKS; attempt++) {
      try {
        const kills = await this.#docker.events.containerEvents({
          sinceMs: event.timeMs - OOM_END_WINDOW_MS,
          untilMs: Date.now(),
          actions: ["kill"],
          labels: {},
          containerId: event.containerId,
        });
        if (kills.length > 0) return true;
      } catch {
        return false; // an engine that cannot say: the rest of the facts decide
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return false;
  }

  /**
   * What the supervisor said as the sandbox ended: its log's last line, when that is one of its
   * verdicts and agrees with the exit code (the supervisor killed by the engine says nothing, and
   * the line before its end may be anything the sandbox wrote).
   */
  async #lastWords(containerId: string, exitCode: number): Promise<EndedReason | undefined> {
    try {
      const { stderr, stdout } = await this.#docker.containers.logs(containerId, { follow: false, tail: 5 });
      stdout.resume();
      let text = "";
      for await (const chunk of stderr) text += (chunk as Buffer).toString();
      const last = text.trimEnd().split("\n").at(-1) ?? "";
      for (const [words, reason, code] of SUPERVISOR_WORDS) {
        const said = words.exec(last);
        if (said && exitCode === (code ?? Number(said[1]))) return reason;
      }
      return undefined;
    } catch {
      return undefined; // removed meanwhile: the rest of the facts decide
    }
  }
}

export interface WatchEventsParams {
  /** Only this app's sandboxes; default every app on the engine. */
  app?: string;
  /** Replay what the engine still holds from this time on (it keeps its latest events only). */
  sinceMs?: number;
  signal: AbortSignal;
}

/** The sandbox events of an app (or every app) as they happen, until the signal aborts. */
export async function* watchEvents(docker: Engine, params: WatchEventsParams): AsyncGenerator<SandboxEvent> {
  const reader = new SandboxEventReader(docker);
  for await (const event of docker.events.watch({
    ...(params.sinceMs !== undefined ? { sinceMs: params.sinceMs } : {}),
    actions: ENGINE_ACTIONS,
    labels: scopeLabels("sandbox", params.app),
    signal: params.signal,
  })) {
    const sandboxEvent = await reader.read(event);
    if (sandboxEvent) yield sandboxEvent;
  }
}
