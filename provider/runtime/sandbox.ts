import { connectDocker, type DockerClient } from "../docker/client.ts";
import type { ExecResult } from "../docker/types.ts";
import { CommandExitError, NotFoundError } from "../errors.ts";
import { createSandbox, inspectSandbox, removeSandbox, type SandboxState } from "./sandbox-ops.ts";
import type { SandboxParams } from "./sandbox-params.ts";

export interface ExecParams {
  /** Extra environment variables for this command. */
  env?: Record<string, string>;
  /** Absolute working directory for this command. */
  workdir?: string;
  /** User to run as; default the sandbox's. */
  user?: string;
  /** Throw CommandExitError on a non-zero exit instead of returning it. Default false. */
  check?: boolean;
}

export interface ConnectParams {
  /** Docker engine (DOCKER_HOST forms); default DOCKER_HOST, else the local socket. */
  dockerHost?: string;
  /** An already-connected client, e.g. a fake in unit tests. */
  docker?: DockerClient;
}

/**
 * A handle on one sandbox. What `create` and `fromId` return is running and
 * usable; `await using` terminates it at the end of the scope.
 */
export class Sandbox {
  readonly id: string;
  readonly app: string;
  readonly name: string;
  readonly #docker: DockerClient;

  private constructor(docker: DockerClient, state: SandboxState) {
    this.#docker = docker;
    this.id = state.id;
    this.app = state.app;
    this.name = state.name;
  }

  static async create(params: SandboxParams, connect: ConnectParams = {}): Promise<Sandbox> {
    const docker = connect.docker ?? connectDocker(connect.dockerHost ?? params.dockerHost);
    return new Sandbox(docker, await createSandbox(docker, params));
  }

  static async fromId(id: string, connect: ConnectParams = {}): Promise<Sandbox> {
    const docker = connect.docker ?? connectDocker(connect.dockerHost);
    const state = await inspectSandbox(docker, id);
    if (!state) throw new NotFoundError(`no sandbox with id ${id} on ${docker.host}`);
    return new Sandbox(docker, state);
  }

  /** Runs a command to completion and returns its exit code and output. */
  async exec(argv: string[], params: ExecParams = {}): Promise<ExecResult> {
    const result = await this.#docker.exec.run(this.id, {
      argv,
      ...(params.env ? { env: params.env } : {}),
      ...(params.workdir ? { workdir: params.workdir } : {}),
      ...(params.user ? { user: params.user } : {}),
    });
    if (params.check && result.exitCode !== 0) throw new CommandExitError(argv, result);
    return result;
  }

  /** The engine's view of the sandbox now. */
  async state(): Promise<SandboxState> {
    const state = await inspectSandbox(this.#docker, this.id);
    if (!state) throw new NotFoundError(`sandbox ${this.id} no longer exists`);
    return state;
  }

  /** Ends the sandbox and removes its container. */
  async terminate(): Promise<void> {
    await removeSandbox(this.#docker, this.id);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.terminate();
  }
}
