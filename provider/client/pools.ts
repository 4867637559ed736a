import type { Engine } from "../engines/port.ts";
import { NotFoundError } from "../errors.ts";
import { isClaimable, listMembers, poolExists, recordedPools, type ClaimParams } from "../runtime/pools/pool.ts";
import { refillPool } from "../runtime/agent/pool-agent.ts";
import type { Refill } from "../runtime/pools/pool.ts";
import type { Sandbox } from "./sandbox.ts";
import type { Sandboxes } from "./sandboxes.ts";

/** A warm pool's numbers now: what it should hold and what it holds. */
export interface PoolStatus {
  app: string;
  name: string;
  /** How many ready members the pool keeps. */
  replicas: number;
  /** Ready and not claimed. */
  ready: number;
  /** Being made or waiting for their readiness probe. */
  pending: number;
  /** Taken by a claimer; no longer counted towards `replicas`. */
  claimed: number;
  /** Paused, claimed or not: memory kept, no CPU. */
  paused: number;
}

/** One warm pool, as declared by a stack: claim from it, or look at it. */
export class SandboxPool {
  readonly app: string;
  readonly name: string;
  readonly #docker: Engine;
  readonly #sandboxes: Sandboxes;

  /** @internal */
  constructor(docker: Engine, sandboxes: Sandboxes, app: string, name: string) {
    this.#docker = docker;
    this.#sandboxes = sandboxes;
    this.app = app;
    this.name = name;
  }

  /** Takes one ready member; fails with PoolExhaustedError when none is ready within `waitMs`. */
  async claim(params: ClaimParams = {}): Promise<Sandbox> {
    return this.#sandboxes.claim(this.app, this.name, params);
  }

  /**
   * Brings the pool back to its replicas of its declared template (what the
   * agent does on each pass), waiting for another maker that is filling it.
   * `secretEnv` gives the values of the template's secrets; without it they
   * are read from a live member.
   */
  async refill(params: { secretEnv?: Record<string, string> } = {}): Promise<Refill> {
    const [record] = (await recordedPools(this.#docker)).filter((p) => p.app === this.app && p.name === this.name);
    if (!record) throw new NotFoundError(`app "${this.app}" has no pool "${this.name}" on ${this.#docker.host}`);
    return refillPool(this.#docker, record, {
      wait: true,
      ...(params.secretEnv ? { secretEnv: params.secretEnv } : {}),
    });
  }

  async status(): Promise<PoolStatus> {
    const [record] = (await recordedPools(this.#docker)).filter((p) => p.app === this.app && p.name === this.name);
    if (!record) throw new NotFoundError(`app "${this.app}" has no pool "${this.name}" on ${this.#docker.host}`);
    return statusOf(this.#docker, record);
  }
}

/** The warm pools of one engine. */
export class Pools {
  readonly #docker: Engine;
  readonly #sandboxes: Sandboxes;

  /** @internal */
  constructor(docker: Engine, sandboxes: Sandboxes) {
    this.#docker = docker;
    this.#sandboxes = sandboxes;
  }

  /** The pool of that name in the app; fails with NotFoundError when no stack declared it. */
  async fromName(app: string, name: string): Promise<SandboxPool> {
    if (!(await poolExists(this.#docker, app, name))) {
      throw new NotFoundError(`app "${app}" has no pool "${name}" on ${this.#docker.host}`);
    }
    return new SandboxPool(this.#docker, this.#sandboxes, app, name);
  }

  /** Every pool (of the app, if given) with its numbers. */
  async list(params: { app?: string } = {}): Promise<PoolStatus[]> {
    const records = (await recordedPools(this.#docker)).filter((p) => !params.app || p.app === params.app);
    return Promise.all(records.map((record) => statusOf(this.#docker, record)));
  }
}

async function statusOf(docker: Engine, record: { app: string; name: string; replicas: number }): Promise<PoolStatus> {
  const members = await listMembers(docker, record.app, record.name);
  const count = (state: string) => members.filter((m) => m.state === state).length;
  return {
    app: record.app,
    name: record.name,
    replicas: record.replicas,
    ready: members.filter(isClaimable).length,
    pending: count("pending"),
    claimed: count("claimed"),
    paused: members.filter((m) => m.paused).length,
  };
}
