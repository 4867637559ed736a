import type { Duplex } from "node:stream";
import { connectEngine } from "../engines/connect.ts";
import type { Engine, EngineInfo } from "../engines/port.ts";
import { ClientContext, type ClientTarget } from "./client-context.ts";
import { Agent, type AgentParams } from "../runtime/agent/agent.ts";
import { watchEvents, type SandboxEvent, type WatchEventsParams } from "../runtime/observability/events.ts";
import { AgentMetrics } from "../runtime/observability/metrics.ts";
import {
  revokeConnectTokens,
  verifyConnectToken,
  verifyConnectTokens,
  type TokenVerdict,
} from "../runtime/sandboxes/connect-tokens.ts";
import { resumeIfPaused } from "../runtime/engine-state/resume.ts";
import { servedPorts } from "../runtime/sandboxes/tunnels.ts";
import { readWebhooks } from "../runtime/observability/webhooks.ts";
import { WebhookDelivery, type DeliveryOptions } from "../runtime/observability/webhook-delivery.ts";
import { collectGarbage, type Garbage } from "../runtime/agent/gc.ts";
import { poolReconcilers } from "../runtime/agent/pool-agent.ts";
import { Apps, Images, Volumes } from "./stored.ts";
import { Pools } from "./pools.ts";
import { Sandboxes } from "./sandboxes.ts";

export type SandfleetParams = ClientTarget;

export interface AgentOptions extends Omit<AgentParams, "docker" | "reconcilers" | "observers" | "eventSink"> {
  /**
   * How webhooks are delivered: where the queue of waiting deliveries is kept
   * (`stateDir`), how long they are retried (`retentionMs`), the bound per
   * receiver, and the environment the signing keys are read from.
   */
  webhooks?: Omit<DeliveryOptions, "onFailure" | "metrics" | "post" | "random">;
}

/**
 * A client of one engine: the home of its sandboxes, pools, images and
 * volumes. It owns one client context (the engine's connection, made lazily,
 * and what the client remembers between calls), shared by everything it
 * returns; nothing is sent before the first call.
 *
 * ```ts
 * const sandfleet = new Sandfleet({ dockerHost: "unix:///var/run/docker.sock" });
 * await using sandbox = await sandfleet.sandboxes.claim("code-interpreter", "python");
 * const { stdout } = await sandbox.run(["python3", "-c", "print(6 * 7)"]);
 * ```
 */
export class Sandfleet {
  readonly sandboxes: Sandboxes;
  readonly pools: Pools;
  readonly images: Images;
  readonly volumes: Volumes;
  readonly apps: Apps;
  readonly #docker: Engine;

  constructor(params: SandfleetParams = {}) {
    const context = new ClientContext(params.docker ?? connectEngine(params));
    this.#docker = context.engine;
    this.sandboxes = new Sandboxes(context);
    this.pools = new Pools(this.#docker, this.sandboxes);
    this.images = new Images(this.#docker);
    this.volumes = new Volumes(this.#docker);
    this.apps = new Apps(this.#docker);
  }

  /** The engine this client speaks to: a DOCKER_HOST URL, or kubernetes://context/namespace. */
  get engine(): string {
    return this.#docker.host;
  }

  /** What the engine says of itself: its kind (docker or kubernetes), storage, CPUs, memory and API version. */
  async engineInfo(): Promise<EngineInfo> {
    return this.#docker.info();
  }

  /** @internal The engine port itself, for the dashboard's watcher, which reads it whole once per tick. */
  get port(): Engine {
    return this.#docker;
  }

  /** Resolves when the engine answers; fails with EngineUnavailableError when it does not. */
  async ping(): Promise<void> {
    await this.#docker.ping();
  }

  /** What the engine's host has: its CPUs and memory (bytes). */
  async capacity(): Promise<{ cpus: number; memoryBytes: number }> {
    const info = await this.#docker.info();
    return { cpus: info.cpus, memoryBytes: info.memoryBytes };
  }

  /**
   * Removes ended sandboxes and unused snapshots made through the runtime; what
   * a Pulumi stack owns is left to the stack. `dryRun` only reports them.
   */
  async gc(params: { app?: string; dryRun?: boolean } = {}): Promise<Garbage> {
    return collectGarbage(this.#docker, { ...params, dryRun: params.dryRun === true });
  }

  /**
   * The lifecycle of the engine's sandboxes (or one app's) as it happens:
   * created, ready, claimed, paused, resumed and ended with its reason.
   *
   * ```ts
   * for await (const event of sandfleet.events({ app: "code-interpreter", signal })) console.log(event);
   * ```
   */
  events(params: WatchEventsParams): AsyncGenerator<SandboxEvent> {
    return watchEvents(this.#docker, params);
  }

  /**
   * The reconciler that keeps lifetimes and warm pools true on this engine:
   * `run(signal)` until aborted, or `reconcileOnce()`.
   */
  /** Revokes a connect token: the gateway refuses it within a second. Says whether there was one. */
  async revokeConnectToken(token: string): Promise<boolean> {
    return (await revokeConnectTokens(this.#docker, { token })) > 0;
  }

  /** @internal What a connect token opens, for the gateway. */
  async verifyConnectToken(token: string): Promise<TokenVerdict> {
    return verifyConnectToken(this.#docker, token);
  }

  /** @internal What each of many connect tokens opens, from one listing: for the gateway's open connections. */
  async verifyConnectTokens(tokens: readonly string[]): Promise<Map<string, TokenVerdict>> {
    return verifyConnectTokens(this.#docker, tokens);
  }

  /**
   * @internal How the gateway reaches a sandbox's port: a stream the engine
   * opens to it for each connection; a paused sandbox is resumed first.
   * Undefined once it has ended, or for a port it does not serve.
   */
  async connectTarget(sandboxId: string, port: number): Promise<{ open: () => Promise<Duplex> } | undefined> {
    await resumeIfPaused(this.#docker, sandboxId).catch(() => undefined);
    const container = await this.#docker.containers.inspect(sandboxId);
    if (!container?.running || !servedPorts(container).includes(port)) return undefined;
    return { open: () => this.#docker.containers.connect(sandboxId, port) };
  }

  /** Metrics for an agent of this engine (or of one app): give them to `agent({ metrics })`. */
  async agentMetrics(app?: string): Promise<AgentMetrics> {
    return AgentMetrics.create(this.#docker, app);
  }

  agent(params: AgentOptions = {}): Agent {
    const { webhooks: deliveryOptions, ...options } = params;
    const docker = this.#docker;
    const delivery = new WebhookDelivery(
      { engine: docker.host, ...(options.app ? { app: options.app } : {}) },
      {
        ...(options.clock ? { clock: options.clock } : {}),
        ...deliveryOptions,
        ...(options.metrics ? { metrics: options.metrics } : {}),
        onFailure: (detail) => options.onEvent?.({ action: "error", detail }),
      },
    );
    return new Agent({
      ...options,
      docker,
      reconcilers: [
        async (d) => {
          delivery.use(await readWebhooks(d, options.app));
          return [];
        },
        ...poolReconcilers(options.app, options.clock),
      ],
      eventSink: delivery,
    });
  }
}
