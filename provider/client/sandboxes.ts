import type { ClientContext, ListParams } from "./client-context.ts";
import type { ClaimParams } from "../runtime/pools/pool.ts";
import type { SandboxParams } from "../runtime/sandboxes/sandbox-params.ts";
import type { SandboxState, SandboxSummary } from "../runtime/sandboxes/sandbox-ops.ts";
import { Sandbox } from "./sandbox.ts";

/** The sandboxes of one engine: made, found, claimed and listed. */
export class Sandboxes {
  readonly #context: ClientContext;

  /** @internal */
  constructor(context: ClientContext) {
    this.#context = context;
  }

  /**
   * Creates and starts a sandbox; usable when this resolves. Made from code,
   * it lives at most `timeoutMs`: 5 minutes unless given (up to 24 hours), as
   * in Modal, kept by its supervisor with no agent running.
   */
  async create(params: SandboxParams): Promise<Sandbox> {
    return this.#handle(await this.#context.create(params));
  }

  async fromId(id: string): Promise<Sandbox> {
    return this.#handle(await this.#context.byId(id));
  }

  /** The sandbox of that name in the app (one that has ended by a timeout is no longer found by name). */
  async fromName(app: string, name: string): Promise<Sandbox> {
    return this.#handle(await this.#context.byName(app, name));
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
    return this.#handle(await this.#context.claim(app, pool, params));
  }

  /**
   * Sandboxes by app and tags, oldest first, as one listing of the engine
   * (ended ones are looked at once more, for their exit codes).
   */
  async list(params: ListParams = {}): Promise<SandboxSummary[]> {
    return this.#context.list(params);
  }

  #handle(state: SandboxState): Sandbox {
    return new Sandbox(this.#context, state);
  }
}
