import type { Engine } from "../engines/port.ts";
import { NotFoundError } from "../errors.ts";
import { containerName } from "../runtime/names.ts";
import { claimMember, type ClaimParams } from "../runtime/pool.ts";
import { systemClock } from "../runtime/poll.ts";
import {
  createSandbox,
  inspectSandbox,
  removeSandbox,
  summarizeSandboxes,
  type SandboxState,
  type SandboxSummary,
} from "../runtime/sandbox-ops.ts";
import { WarmMembers } from "../runtime/warm-members.ts";
import type { SandboxParams } from "../runtime/sandbox-params.ts";
import { Sandbox } from "../runtime/sandbox.ts";
import { startLifetime } from "../runtime/supervisor/lifetime.ts";

/** The lifetime of a sandbox made from code that does not give one: Modal's 5 minutes. */
export const RUNTIME_TIMEOUT_MS = 5 * 60 * 1000;

export interface ListParams {
  app?: string;
  /** A sandbox matches when it has at least these tags. */
  tags?: Record<string, string>;
  /** Include sandboxes that have ended. Default false. */
  includeEnded?: boolean;
}

/** The sandboxes of one engine: made, found, claimed and listed. */
export class Sandboxes {
  readonly #docker: Engine;
  /** The warm members this client last listed, per pool: a claim then costs its rename alone. */
  readonly #warm = new WarmMembers(systemClock);

  /** @internal */
  constructor(docker: Engine) {
    this.#docker = docker;
  }

  /**
   * Creates and starts a sandbox; usable when this resolves. Made from code,
   * it lives at most `timeoutMs`: 5 minutes unless given (up to 24 hours), as
   * in Modal, kept by its supervisor with no agent running.
   */
  async create(params: SandboxParams): Promise<Sandbox> {
    const withLifetime = { ...params, timeoutMs: params.timeoutMs ?? RUNTIME_TIMEOUT_MS };
    const state = await createSandbox(this.#docker, withLifetime, { owner: "runtime", openAhead: true });
    return new Sandbox(this.#docker, state);
  }

  async fromId(id: string): Promise<Sandbox> {
    const state = await inspectSandbox(this.#docker, id);
    if (!state) throw new NotFoundError(`no sandbox with id ${id} on ${this.#docker.host}`);
    return new Sandbox(this.#docker, state);
  }

  /** The sandbox of that name in the app (one that has ended by a timeout is no longer found by name). */
  async fromName(app: string, name: string): Promise<Sandbox> {
    const state = await inspectSandbox(this.#docker, containerName(app, name));
    if (!state || state.app !== app) {
      throw new NotFoundError(`no sandbox named "${name}" in app "${app}" on ${this.#docker.host}`);
    }
    return new Sandbox(this.#docker, state);
  }

  /** A sandbox as people name one on a command line: `app/name`, a container id (or its prefix), or a container name. */
  async fromRef(ref: string): Promise<Sandbox> {
    const slash = ref.indexOf("/");
    return slash > 0 ? this.fromName(ref.slice(0, slash), ref.slice(slash + 1)) : this.fromId(ref);
  }

  /**
   * Takes one ready sandbox from a warm pool, atomically: no two claimers get
   * the same one. Fails with PoolExhaustedError when none is ready within `waitMs`.
   */
  async claim(app: string, pool: string, params: ClaimParams = {}): Promise<Sandbox> {
    let state: SandboxState | undefined;
    for (;;) {
      const id = await claimMember(this.#docker, app, pool, params, this.#warm);
      state = await inspectSandbox(this.#docker, id);
      if (state?.running) break;
      // It died after it was listed as warm: it is this claimer's now, so it goes, and another is claimed.
      if (state) await removeSandbox(this.#docker, id).catch(() => undefined);
    }
    // Its lifetime starts now. Not waited for: the connection this opens is the one the first
    // exec uses, which queues behind it, and the agent keeps the same bounds from the claim record.
    if (state.supervised) startLifetime(this.#docker, state.id).catch(() => undefined);
    return new Sandbox(this.#docker, state);
  }

  /**
   * Sandboxes by app and tags, oldest first, as one listing of the engine
   * (ended ones are looked at once more, for their exit codes).
   */
  async list(params: ListParams = {}): Promise<SandboxSummary[]> {
    return summarizeSandboxes(this.#docker, params);
  }
}
