import { connectEngine, type EngineTarget, type KubernetesEngineOptions } from "../engines/connect.ts";
import type { Engine } from "../engines/port.ts";
import { NotFoundError } from "../errors.ts";
import { containerName } from "../runtime/engine-state/names.ts";
import { claimMember, refreshWarmAhead, type ClaimParams } from "../runtime/pools/pool.ts";
import { systemClock } from "../runtime/local/poll.ts";
import {
  createSandbox,
  inspectSandbox,
  removeSandbox,
  summarizeSandboxes,
  type SandboxState,
  type SandboxSummary,
} from "../runtime/sandboxes/sandbox-ops.ts";
import type { SandboxParams } from "../runtime/sandboxes/sandbox-params.ts";
import { startLifetime } from "../runtime/supervisor/lifetime.ts";
import { WarmMembers } from "../runtime/pools/warm-members.ts";
import { TunnelListeners } from "../runtime/sandboxes/tunnels.ts";

// A client's hold on one engine: the engine and what the client remembers
// from one call to the next. A Sandfleet owns one; Sandbox's static
// shortcuts share the default one of each engine target.

/** Which engine a client speaks to: `new Sandfleet(...)` and the static shortcuts of Sandbox take the same. */
export interface ClientTarget extends EngineTarget {
  /** The Docker engine, in DOCKER_HOST forms; default DOCKER_HOST, else the local socket. */
  dockerHost?: string;
  /**
   * A Kubernetes cluster instead of a Docker engine: its kubeconfig context,
   * namespace, and the registry its nodes pull images from.
   */
  kubernetes?: KubernetesEngineOptions;
  /** @internal An engine client already made, such as a fake in a unit test. */
  docker?: Engine;
}

export interface ListParams {
  app?: string;
  /** A sandbox matches when it has at least these tags. */
  tags?: Record<string, string>;
  /** Include sandboxes that have ended. Default false. */
  includeEnded?: boolean;
}

/** The lifetime of a sandbox made from code that does not give one: Modal's 5 minutes. */
const RUNTIME_TIMEOUT_MS = 5 * 60 * 1000;

/**
 * One client of an engine, as the layers above it share it. Sandboxes come
 * out of it as states: whoever asked (Sandboxes, or a shortcut of Sandbox)
 * wraps them in handles, so this stands below both.
 */
export class ClientContext {
  readonly engine: Engine;
  /** The warm members this client last listed, per pool: a claim then costs its rename alone. */
  readonly #warm = new WarmMembers(systemClock);
  /** The tunnels this client opened (on an engine that publishes no port on this host). */
  readonly tunnels: TunnelListeners;

  constructor(engine: Engine) {
    this.engine = engine;
    this.tunnels = new TunnelListeners(engine);
  }

  /** Creates and starts a sandbox made from code: it lives at most `timeoutMs`, 5 minutes unless given. */
  async create(params: SandboxParams): Promise<SandboxState> {
    const withLifetime = { ...params, timeoutMs: params.timeoutMs ?? RUNTIME_TIMEOUT_MS };
    return createSandbox(this.engine, withLifetime, { owner: "runtime", openAhead: true });
  }

  async byId(id: string): Promise<SandboxState> {
    const state = await inspectSandbox(this.engine, id);
    if (!state) throw new NotFoundError(`no sandbox with id ${id} on ${this.engine.host}`);
    return state;
  }

  async byName(app: string, name: string): Promise<SandboxState> {
    const state = await inspectSandbox(this.engine, containerName(app, name));
    if (!state || state.app !== app) {
      throw new NotFoundError(`no sandbox named "${name}" in app "${app}" on ${this.engine.host}`);
    }
    return state;
  }

  /** Takes one ready member of a warm pool, atomically, and starts its lifetime. */
  async claim(app: string, pool: string, params: ClaimParams = {}): Promise<SandboxState> {
    for (;;) {
      const id = await claimMember(this.engine, app, pool, params, this.#warm);
      const state = await inspectSandbox(this.engine, id);
      if (state?.running) {
        // Its lifetime starts now. Not waited for: the connection this opens is the one the first
        // exec uses, which queues behind it, and the agent keeps the same bounds from the claim record.
        if (state.supervised) startLifetime(this.engine, state.id).catch(() => undefined);
        refreshWarmAhead(this.engine, app, pool, this.#warm);
        return state;
      }
      // It died after it was listed as warm: it is this claimer's now, so it goes, and another is claimed.
      if (state) await removeSandbox(this.engine, id).catch(() => undefined);
    }
  }

  async list(params: ListParams = {}): Promise<SandboxSummary[]> {
    return summarizeSandboxes(this.engine, params);
  }
}

/**
 * The client the static shortcuts use: one per engine target, reused, as
 * Modal's SDK keeps a default client, so that a shortcut keeps the client's
 * connections and caches (a claim's listing of warm members, say) from one
 * call to the next instead of starting cold each time. An engine given
 * whole gets a client of its own.
 */
const defaultContexts = new Map<string, ClientContext>();

export function defaultContext(target: ClientTarget): ClientContext {
  if (target.docker) return new ClientContext(target.docker);
  const key = JSON.stringify([target.dockerHost ?? process.env.DOCKER_HOST ?? "", target.kubernetes ?? null]);
  let made = defaultContexts.get(key);
  if (!made) {
    made = new ClientContext(
      connectEngine({
        ...(target.dockerHost ? { dockerHost: target.dockerHost } : {}),
        ...(target.kubernetes ? { kubernetes: target.kubernetes } : {}),
      }),
    );
    defaultContexts.set(key, made);
  }
  return made;
}
