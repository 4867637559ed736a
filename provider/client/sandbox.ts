import { PassThrough, type Readable, type Writable } from "node:stream";
import type { Engine } from "../engines/port.ts";
import type { ContainerInfo, ContainerStats, ExecResult } from "../engines/port.ts";
import { CommandExitError, ConflictError, InvalidArgumentError, NotFoundError } from "../errors.ts";
import { readAll } from "../streams.ts";
import { SandboxFiles } from "../runtime/commands/files.ts";
import { reportedExitCode, setDeadline } from "../runtime/sandboxes/lifetime.ts";
import { egressRefusals, forgetEgress, setEgress, type EgressRefusal } from "../runtime/networks/egress.ts";
import type { EgressPolicy } from "../runtime/networks/egress-rules.ts";
import { LABEL } from "../runtime/engine-state/labels.ts";
import { createConnectToken, type ConnectToken } from "../runtime/sandboxes/connect-tokens.ts";
import { checkpointSandbox, pauseSandbox, type PauseResult } from "../runtime/sandboxes/pause.ts";
import { forgetCheckpoints, resumeIfPaused } from "../runtime/engine-state/resume.ts";
import { supervisorActivity, touchSupervisor, type SupervisorActivity } from "../runtime/supervisor/activity.ts";
import type { ClaimParams } from "../runtime/pools/pool.ts";
import { SandboxProcess, type ExecEndReason, type ExecParams, type ExecTarget } from "../runtime/commands/process.ts";
import { defaultContext, type ClientContext, type ClientTarget, type ListParams } from "./client-context.ts";
import type { Tunnel, TunnelListeners } from "../runtime/sandboxes/tunnels.ts";
import {
  inspectSandbox,
  waitUntilReady,
  type SandboxState,
  type SandboxSummary,
} from "../runtime/sandboxes/sandbox-ops.ts";
import { sandboxParamsProblems, type SandboxParams } from "../runtime/sandboxes/sandbox-params.ts";
import { removeRecords } from "../runtime/engine-state/sandbox-records.ts";
import { snapshotSandbox, type SnapshotState } from "../runtime/sandboxes/snapshot.ts";
import { mainStdin } from "../runtime/supervisor/main-stdin.ts";
import { liveTags, setTags } from "../runtime/sandboxes/tags.ts";

/** Which engine a static shortcut speaks to: the same choices as `new Sandfleet(...)`. */
export type ConnectParams = ClientTarget;

export interface RunParams extends ExecParams {
  /** Bytes for the command's stdin; it is closed after them. */
  input?: string | Uint8Array;
  /** Throw CommandExitError on a non-zero exit instead of returning it. Default false. */
  check?: boolean;
}

/** What a sandbox uses, sampled once. */
export interface SandboxMetrics extends ContainerStats {
  /** When it was sampled (ISO 8601). */
  sampledAt: string;
}

export type { Tunnel } from "../runtime/sandboxes/tunnels.ts";

/**
 * A handle on one sandbox. What `create`, `fromId` and `fromName` return is
 * usable at once; `await using` terminates and removes it at the end of the
 * scope, `detach()` lets it run on.
 */
export class Sandbox {
  readonly id: string;
  readonly app: string;
  readonly name: string;
  readonly #docker: Engine;
  readonly #tunnels: TunnelListeners;
  readonly #target: ExecTarget;
  #detached = false;
  #mainOutput: { stdout: PassThrough; stderr: PassThrough } | undefined;
  #mainInput: Writable | undefined;
  /** The container as read when this handle was made, for its first command only: later ones read it afresh. */
  #inspected: ContainerInfo | undefined;

  /** @internal Handles come from a Sandfleet client, or the static shortcuts below. */
  constructor(
    context: ClientContext,
    state: Pick<SandboxState, "id" | "app" | "name" | "supervised"> & { container?: ContainerInfo },
  ) {
    this.#docker = context.engine;
    this.#tunnels = context.tunnels;
    this.id = state.id;
    this.app = state.app;
    this.name = state.name;
    this.#target = { id: state.id, supervised: state.supervised };
    this.#inspected = state.container;
  }

  /** Shortcut for `sandboxes.create(params)` of the default client of the engine `connect` names (one per engine, reused). */
  static async create(params: SandboxParams, connect: ConnectParams = {}): Promise<Sandbox> {
    const context = client(connect, params.dockerHost);
    return new Sandbox(context, await context.create(params));
  }

  /** Shortcut for `sandboxes.fromId(id)` of the default client of the engine `connect` names (one per engine, reused). */
  static async fromId(id: string, connect: ConnectParams = {}): Promise<Sandbox> {
    const context = client(connect);
    return new Sandbox(context, await context.byId(id));
  }

  /** Shortcut for `sandboxes.fromName(app, name)` of the default client of the engine `connect` names (one per engine, reused). */
  static async fromName(app: string, name: string, connect: ConnectParams = {}): Promise<Sandbox> {
    const context = client(connect);
    return new Sandbox(context, await context.byName(app, name));
  }

  /** Shortcut for `sandboxes.claim(app, pool, params)` of the default client of the engine `params` names (one per engine, reused). */
  static async claim(app: string, pool: string, params: ConnectParams & ClaimParams = {}): Promise<Sandbox> {
    const context = client(params);
    return new Sandbox(context, await context.claim(app, pool, params));
  }

  /** Shortcut for `sandboxes.list(params)` of the default client of the engine `params` names (one per engine, reused). */
  static async list(params: ConnectParams & ListParams = {}): Promise<SandboxSummary[]> {
    return client(params).list(params);
  }

  /** Starts a command; its output streams as it comes. */
  async exec(argv: string[], params: ExecParams = {}): Promise<SandboxProcess> {
    const inspected = this.#inspected;
    this.#inspected = undefined;
    return SandboxProcess.start(this.#engine(), { ...this.#target, inspected }, argv, params);
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

  /**
   * The main command's stdin: what is written reaches the command, `end()`
   * closes it. Needs the supervisor (a sandbox made with `supervisor: false` has none).
   */
  get stdin(): Writable {
    const docker = this.#engine();
    if (!this.#target.supervised) {
      throw new InvalidArgumentError(
        `sandbox ${this.app}/${this.name} runs without the supervisor, so its main command's stdin cannot be written`,
      );
    }
    return (this.#mainInput ??= mainStdin(docker, this.id));
  }

  /** What the main command writes on stdout, from its start; the stream ends when the sandbox does. */
  get stdout(): Readable {
    return this.#mainStreams().stdout;
  }

  /** What the main command writes on stderr, from its start; the stream ends when the sandbox does. */
  get stderr(): Readable {
    return this.#mainStreams().stderr;
  }

  #mainStreams(): { stdout: PassThrough; stderr: PassThrough } {
    if (this.#mainOutput) return this.#mainOutput;
    const output = { stdout: new PassThrough(), stderr: new PassThrough() };
    this.#mainOutput = output;
    void followMainOutput(
      () => this.logs({ follow: true }),
      () => this.logs(),
      output,
    ).catch((error: unknown) => {
      output.stdout.destroy(error as Error);
      output.stderr.destroy(error as Error);
    });
    return output;
  }

  /** Files inside the sandbox, read and written as its user. */
  get files(): SandboxFiles {
    return new SandboxFiles(this.#engine(), this.#target);
  }

  /** The engine's view of the sandbox now. */
  async state(): Promise<SandboxState> {
    // Looking is allowed on a detached handle, as in Modal: only acting on the sandbox is not.
    const state = await inspectSandbox(this.#docker, this.id);
    if (!state) throw new NotFoundError(`sandbox ${this.id} no longer exists`);
    return state;
  }

  /** Waits for the sandbox's readiness probe; fails naming the probe, or at once if the sandbox ended. */
  async waitUntilReady(params: { timeoutMs?: number } = {}): Promise<void> {
    await waitUntilReady(this.#engine(), await this.state(), params);
  }

  /** The exit code if the sandbox has ended (124: by a timeout, 137: terminated), else null. */
  async poll(): Promise<number | null> {
    return reportedExitCode((await this.state()).container) ?? null;
  }

  /** Waits until the sandbox ends and returns its exit code (a detached handle may wait, too). */
  async wait(): Promise<number> {
    await this.#docker.containers.wait(this.id);
    return (await this.poll()) ?? -1;
  }

  /** What the sandbox's main process wrote; with `follow`, on as it comes until the sandbox ends. */
  async logs(params: { follow?: boolean; tail?: number } = {}): Promise<{ stdout: Readable; stderr: Readable }> {
    return this.#engine().containers.logs(this.id, {
      follow: params.follow === true,
      ...(params.tail !== undefined ? { tail: params.tail } : {}),
    });
  }

  /**
   * Where each port of the sandbox is reachable on this host's 127.0.0.1:
   * the engine's published port (Docker), or a listener of this process
   * through the API server's port-forward (Kubernetes), the same ones on
   * every call, closed once the sandbox ends. None once it has ended.
   */
  async tunnels(): Promise<Tunnel[]> {
    return this.#tunnels.list((await this.state()).container);
  }

  /**
   * Commits the sandbox's filesystem (volumes excluded) to an image a new
   * sandbox can start from. With `expiresInMs`, `sandfleet agent` removes it
   * once that has passed and no sandbox uses it.
   */
  async snapshotFilesystem(name?: string, options: { expiresInMs?: number } = {}): Promise<SnapshotState> {
    return snapshotSandbox(this.#engine(), this.id, {
      app: this.app,
      ...(name ? { name } : {}),
      owner: "runtime",
      ...(options.expiresInMs !== undefined ? { expiresInMs: options.expiresInMs } : {}),
    });
  }

  /**
   * Ends the sandbox (exit code 137); the stopped container stays until
   * removed or collected. A sandbox that has already ended is refused, as
   * Modal refuses a second terminate.
   */
  async terminate(): Promise<number> {
    const ended = reportedExitCode((await this.state()).container);
    if (ended !== undefined) {
      // Stopped by a checkpoint, its memory on disk: ending it removes that, and no resume brings it back.
      if (await forgetCheckpoints(this.#engine(), this.id)) {
        await this.#tunnels.close(this.id);
        return ended;
      }
      throw new ConflictError(`sandbox ${this.app}/${this.name} has already ended (exit code ${String(ended)})`);
    }
    await this.#engine().containers.kill(this.id, "SIGKILL");
    await this.#tunnels.close(this.id);
    return this.wait();
  }

  /** Removes the sandbox's container, running or not, and the records of the tags and deadline set on it. */
  async remove(): Promise<void> {
    await this.#tunnels.close(this.id);
    await forgetEgress(this.#engine(), this.id);
    await this.#engine().containers.remove(this.id);
    await removeRecords(this.#engine(), this.id);
  }

  /**
   * Freezes every process of the sandbox: its memory and files stay, it uses
   * no CPU, and its lifetime keeps counting. The next exec, file
   * call or connection resumes it by itself. `checkpoint: true` instead has
   * the engine write its memory and processes to disk with CRIU and stop it,
   * freeing its memory; the same calls, or `resume()`, restore it from disk.
   * Where the engine cannot, the result says why, and the freezer pauses it.
   */
  async pause(options: { checkpoint?: boolean } = {}): Promise<PauseResult> {
    const docker = this.#engine();
    const checkpointError = options.checkpoint ? await checkpointSandbox(docker, this.id) : undefined;
    if (options.checkpoint && checkpointError === undefined) return { mode: "checkpoint" };
    await pauseSandbox(docker, this.id, `${this.app}/${this.name}`);
    return checkpointError === undefined ? { mode: "freezer" } : { mode: "freezer", checkpointError };
  }

  /**
   * Thaws a paused sandbox, or restores one a checkpoint stopped; one that
   * runs is left as it is. Its idle time starts again.
   */
  async resume(): Promise<void> {
    const docker = this.#engine();
    if ((await resumeIfPaused(docker, this.id)) && this.#target.supervised) await touchSupervisor(docker, this.id);
  }

  /**
   * What runs in the sandbox now and how long it has been idle, as its
   * supervisor counts. Undefined for a sandbox without one, or one paused or
   * ended (asking never resumes it).
   */
  async activity(): Promise<SupervisorActivity | undefined> {
    if (!this.#target.supervised) return undefined;
    return supervisorActivity(this.#engine(), this.id).catch(() => undefined);
  }

  /** What the sandbox uses now: CPU time, memory, processes and network bytes, from the engine. */
  async metrics(): Promise<SandboxMetrics> {
    const stats = await this.#engine().containers.stats(this.id);
    return { ...stats, sampledAt: new Date().toISOString() };
  }

  /**
   * Sets how long the sandbox may live from now on, longer or shorter, with
   * no new container: its supervisor and `sandfleet agent` (after a restart
   * of its own too) both keep the new deadline. Whole seconds, at most 24 hours.
   */
  async setTimeout(timeoutMs: number): Promise<void> {
    await setDeadline(this.#engine(), { id: this.id, app: this.app, supervised: this.#target.supervised }, timeoutMs);
  }

  /**
   * A URL that opens one port of this sandbox through the
   * sandfleet gateway (`sandfleet gateway`), to anyone who has it, until
   * `ttlMs` has passed or it is revoked, on the port's own host name under
   * the gateway's. `gatewayUrl`, the gateway's base URL, defaults to
   * SANDFLEET_GATEWAY_URL, else http://localhost:8088.
   */
  async createConnectToken(params: { port?: number; ttlMs?: number; gatewayUrl?: string } = {}): Promise<ConnectToken> {
    return createConnectToken(this.#engine(), this, params);
  }

  /**
   * Replaces the egress allowlist of a sandbox made with one, while it runs:
   * the same container, the new list in force at once.
   */
  async setEgress(policy: EgressPolicy): Promise<void> {
    // Only the list is judged: the rest stands in for a sandbox that already exists.
    const problems = sandboxParamsProblems({ app: this.app, image: "-", egress: policy }).filter((p) =>
      p.property.startsWith("egress"),
    );
    if (problems.length > 0)
      throw new InvalidArgumentError(problems.map((p) => `${p.property}: ${p.reason}`).join("; "));
    const { container } = await this.state();
    if (container.labels[LABEL.egress] === undefined) {
      throw new ConflictError(
        `sandbox ${this.app}/${this.name} was made without an egress allowlist; its network cannot change while it runs`,
      );
    }
    await setEgress(this.#engine(), this, policy.allow);
  }

  /**
   * What the egress allowlist refused this sandbox, each with its destination
   * and reason, as the egress daemon keeps them (`sandfleet logs` shows them):
   * the newest 500, with a summary ("N more refused", `more` set) for each
   * second in which more were refused than it logs one by one.
   */
  async egressRefusals(): Promise<EgressRefusal[]> {
    return egressRefusals(this.#engine(), this.id);
  }

  /** Replaces the sandbox's tags while it runs; `list({ tags })` finds it by the new ones. */
  async setTags(tags: Record<string, string>): Promise<void> {
    await setTags(this.#engine(), this, tags);
  }

  /** The sandbox's tags: the last set, else those it was made with. */
  async getTags(): Promise<Record<string, string>> {
    const docker = this.#engine();
    const [setLater, state] = await Promise.all([liveTags(docker, this.app), this.state()]);
    return setLater.get(this.id) ?? state.tags;
  }

  /**
   * Lets the sandbox run on after this handle goes out of scope. The handle
   * then only looks (`wait`, `poll`, `state`): every call that acts on the
   * sandbox fails (get a new handle with fromId).
   */
  detach(): void {
    this.#detached = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#detached) await this.remove();
  }

  /** The engine, for a handle that is still attached. */
  #engine(): Engine {
    if (this.#detached) {
      throw new InvalidArgumentError(
        `this handle of sandbox ${this.app}/${this.name} was detached; get a new one with fromId("${this.id}")`,
      );
    }
    return this.#docker;
  }
}

/**
 * Follows the main command's output until the sandbox ends, then reads the
 * whole log once more for what the follow missed: the engine keeps a last
 * line without a newline back until the command's output closes, and may
 * end a follow before writing it.
 */
async function followMainOutput(
  follow: () => Promise<{ stdout: Readable; stderr: Readable }>,
  whole: () => Promise<{ stdout: Readable; stderr: Readable }>,
  output: { stdout: PassThrough; stderr: PassThrough },
): Promise<void> {
  const live = await follow();
  const seen = { stdout: 0, stderr: 0 };
  const copy = (name: "stdout" | "stderr") =>
    new Promise<void>((resolve, reject) => {
      live[name].on("data", (chunk: Buffer) => {
        seen[name] += chunk.length;
        output[name].write(chunk);
      });
      live[name].once("end", resolve);
      live[name].once("error", reject);
    });
  await Promise.all([copy("stdout"), copy("stderr")]);
  const all = await whole();
  const [stdout, stderr] = await Promise.all([readAll(all.stdout), readAll(all.stderr)]);
  output.stdout.end(stdout.subarray(seen.stdout));
  output.stderr.end(stderr.subarray(seen.stderr));
}

/** The default client of the engine a shortcut names; a sandbox's own `dockerHost` stands in when the shortcut names none. */
function client(connect: ConnectParams, dockerHost?: string): ClientContext {
  return defaultContext({ ...connect, ...(connect.dockerHost || !dockerHost ? {} : { dockerHost }) });
}
