import { connectDocker, type DockerClient } from "../docker/client.ts";
import type { ExecResult } from "../docker/types.ts";
import { CommandExitError, NotFoundError } from "../errors.ts";
import { SandboxFiles } from "./files.ts";
import { reportedExitCode } from "./lifetime.ts";
import { containerName } from "./names.ts";
import { claimMember, type ClaimParams } from "./pool.ts";
import { SandboxProcess, type ExecEndReason, type ExecParams } from "./process.ts";
import { createSandbox, inspectSandbox, listSandboxes, waitUntilReady, type SandboxState } from "./sandbox-ops.ts";
import type { SandboxParams } from "./sandbox-params.ts";
import { snapshotSandbox, type SnapshotState } from "./snapshot.ts";

export interface ConnectParams {
  /** Docker engine (DOCKER_HOST forms); default DOCKER_HOST, else the local socket. */
  dockerHost?: string;
  /** An already-connected client, e.g. a fake in unit tests. */
  docker?: DockerClient;
}

export interface RunParams extends ExecParams {
  /** Bytes for the command's stdin; it is closed after them. */
  input?: string | Uint8Array;
  /** Throw CommandExitError on a non-zero exit instead of returning it. Default false. */
  check?: boolean;
}

export interface ListParams extends ConnectParams {
  app?: string;
  /** A sandbox matches when it has at least these tags. */
  tags?: Record<string, string>;
  /** Include sandboxes that have ended. Default false. */
  includeEnded?: boolean;
}

/** A published port: where to reach a port of the sandbox from this host. */
export interface Tunnel {
  containerPort: number;
  host: "127.0.0.1";
  hostPort: number;
  url: string;
}

/**
 * A handle on one sandbox. What `create`, `fromId` and `fromName` return is
 * usable at once; `await using` terminates and removes it at the end of the
 * scope, `detach()` lets it run on.
 */
export class Sandbox {
  readonly id: string;
  readonly app: string;
  readonly name: string;
  readonly #docker: DockerClient;
  readonly #user: string | undefined;
  #detached = false;

  protected constructor(docker: DockerClient, state: SandboxState) {
    this.#docker = docker;
    this.id = state.id;
    this.app = state.app;
    this.name = state.name;
    this.#user = state.container.user || undefined;
  }

  static async create(params: SandboxParams, connect: ConnectParams = {}): Promise<Sandbox> {
    const docker = connect.docker ?? connectDocker(connect.dockerHost ?? params.dockerHost);
    return new Sandbox(docker, await createSandbox(docker, params, { owner: "runtime" }));
  }

  static async fromId(id: string, connect: ConnectParams = {}): Promise<Sandbox> {
    const docker = connect.docker ?? connectDocker(connect.dockerHost);
    const state = await inspectSandbox(docker, id);
    if (!state) throw new NotFoundError(`no sandbox with id ${id} on ${docker.host}`);
    return new Sandbox(docker, state);
  }

  /** The sandbox of that name in the app (one that has ended by a timeout is no longer found by name). */
  static async fromName(app: string, name: string, connect: ConnectParams = {}): Promise<Sandbox> {
    const docker = connect.docker ?? connectDocker(connect.dockerHost);
    const state = await inspectSandbox(docker, containerName(app, name));
    if (!state || state.app !== app)
      throw new NotFoundError(`no sandbox named "${name}" in app "${app}" on ${docker.host}`);
    return new Sandbox(docker, state);
  }

  /**
   * Takes one ready sandbox from a warm pool, atomically: no two claimers get
   * the same one. Fails with PoolExhaustedError when none is ready within `waitMs`.
   */
  static async claim(app: string, pool: string, params: ConnectParams & ClaimParams = {}): Promise<Sandbox> {
    const docker = params.docker ?? connectDocker(params.dockerHost);
    const id = await claimMember(docker, app, pool, params);
    const state = await inspectSandbox(docker, id);
    if (!state) throw new NotFoundError(`claimed sandbox ${id} disappeared`);
    return new Sandbox(docker, state);
  }

  /** Sandboxes by app and tags, oldest first. */
  static async list(params: ListParams = {}): Promise<Sandbox[]> {
    const docker = params.docker ?? connectDocker(params.dockerHost);
    return (await listSandboxes(docker, params)).map((s) => new Sandbox(docker, s));
  }

  /** Starts a command; its output streams as it comes. */
  async exec(argv: string[], params: ExecParams = {}): Promise<SandboxProcess> {
    return SandboxProcess.start(this.#docker, this.id, argv, params);
  }

  /** Runs a command to completion and returns its exit code and output. */
  async run(
    argv: string[],
    params: RunParams = {},
  ): Promise<ExecResult & { timedOut: boolean; reason?: ExecEndReason }> {
    const { input, check, ...execParams } = params;
    const process = await this.exec(argv, { ...execParams, stdin: execParams.stdin === true || input !== undefined });
    if (input !== undefined) process.stdin.end(typeof input === "string" ? Buffer.from(input) : input);
    const result = await process.output();
    if (check && result.exitCode !== 0) throw new CommandExitError(argv, result);
    return result;
  }

  /** Files inside the sandbox, read and written as its user. */
  get files(): SandboxFiles {
    return new SandboxFiles(this.#docker, this.id, this.#user);
  }

  /** The engine's view of the sandbox now. */
  async state(): Promise<SandboxState> {
    const state = await inspectSandbox(this.#docker, this.id);
    if (!state) throw new NotFoundError(`sandbox ${this.id} no longer exists`);
    return state;
  }

  /** Waits for the sandbox's readiness probe; fails naming the probe, or at once if the sandbox ended. */
  async waitUntilReady(params: { timeoutMs?: number } = {}): Promise<void> {
    await waitUntilReady(this.#docker, await this.state(), params);
  }

  /** The exit code if the sandbox has ended (124: by a timeout, 137: terminated), else undefined. */
  async poll(): Promise<number | undefined> {
    return reportedExitCode((await this.state()).container);
  }

  /** Waits until the sandbox ends and returns its exit code. */
  async wait(): Promise<number> {
    await this.#docker.containers.wait(this.id);
    return (await this.poll()) ?? -1;
  }

  /** Where each published port of the sandbox is reachable on this host. */
  async tunnels(): Promise<Tunnel[]> {
    const { ports } = await this.state();
    return Object.entries(ports).map(([containerPort, hostPort]) => ({
      containerPort: Number(containerPort),
      host: "127.0.0.1",
      hostPort,
      url: `http://127.0.0.1:${String(hostPort)}`,
    }));
  }

  /** Commits the sandbox's filesystem (volumes excluded) to an image a new sandbox can start from. */
  async snapshotFilesystem(name?: string): Promise<SnapshotState> {
    return snapshotSandbox(this.#docker, this.id, { app: this.app, ...(name ? { name } : {}), owner: "runtime" });
  }

  /** Ends the sandbox (exit code 137); the stopped container stays until removed or collected. */
  async terminate(): Promise<number> {
    await this.#docker.containers.kill(this.id, "SIGKILL");
    return this.wait();
  }

  /** Removes the sandbox's container, running or not. */
  async remove(): Promise<void> {
    await this.#docker.containers.remove(this.id);
  }

  /** Lets the sandbox run on after this handle goes out of scope. */
  detach(): void {
    this.#detached = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#detached) await this.remove();
  }
}
