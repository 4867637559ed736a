import { Writable } from "node:stream";
import type { Engine } from "../../engines/port.ts";
import type { ContainerInfo, ExecProcess } from "../../engines/port.ts";
import { EngineError, SandfleetError } from "../../errors.ts";
import {
  authFrame,
  encodeFrame,
  FRAME,
  FrameParser,
  jsonPayload,
  parsePayload,
  type Frame,
  type FrameKind,
} from "./frames.ts";
import type { DoneRequest, DoneResults, FailureReply, SupervisorRequest } from "./protocol.ts";
import { startFailure } from "./engine-start-failure.ts";
import { resumeIfPaused, withResume } from "../engine-state/resume.ts";
import { controlOf } from "./control.ts";
import { forgetPlacement, hostRelay } from "./placement.ts";

/** What a channel's owner hears: its frames, and the loss of the connection. */
interface ChannelListener {
  frame(frame: Frame): void;
  lost(error: Error): void;
}

/** The engine could not start the supervisor's binary: it is missing or damaged where it was placed. */
export class SupervisorBinaryError extends EngineError {}

/** A failure the supervisor reported for one operation. */
export class SupervisorFailure extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * How long a new channel may hear nothing before its sandbox is checked for
 * a pause. A running supervisor answers in about a millisecond; a check that
 * finds the sandbox running costs one inspect, so it can come early.
 */
const STALL_MS = 40;

/** The largest piece of input sent in one frame. */
const INPUT_CHUNK = 256 * 1024;

/**
 * One connection to a sandbox's supervisor: a single engine exec of
 * `sandfleet-supervisor connect`, over which any number of commands and file
 * calls run, each on a channel of its own. An idle connection does not keep
 * the Node process running.
 */
export class SupervisorConnection {
  readonly #transport: ExecProcess;
  readonly #channels = new Map<number, ChannelListener>();
  /** Channels that may stay open without keeping the Node process running (a main command's stdin). */
  readonly #unheld = new Set<number>();
  readonly #parser = new FrameParser();
  #next = 1;
  #lost: Error | undefined;
  readonly #onClose: () => void;
  readonly #onStall: () => void;

  private constructor(transport: ExecProcess, onClose: () => void, onStall: () => void) {
    this.#transport = transport;
    this.#onClose = onClose;
    this.#onStall = onStall;
  }

  /** `inspected`: the container as the caller has just read it, which saves reading it again. */
  static async open(
    docker: Engine,
    containerId: string,
    onClose: () => void,
    inspected?: ContainerInfo,
  ): Promise<SupervisorConnection> {
    const control = await controlOf(docker, containerId, inspected);
    // On the engine's own host, from beside the sandbox: no engine exec, a few milliseconds.
    // SANDFLEET_SUPERVISOR_CHANNEL=exec keeps to the engine's exec (which the engine logs and audits).
    const { user } = control;
    const relay = user && process.env.SANDFLEET_SUPERVISOR_CHANNEL !== "exec" ? hostRelay() : undefined;
    const besideOf = async (container?: ContainerInfo) =>
      relay && user
        ? await docker.exec
            .startBeside?.(containerId, [relay, "connect", "--as", user], container)
            .catch(() => undefined)
        : undefined;
    let beside = await besideOf(control.container);
    // The caller's read may be from before a restart, naming a process the container no longer has.
    if (!beside && inspected) beside = await besideOf();
    if (beside) {
      let kept = false;
      try {
        const connection = await SupervisorConnection.#greet(docker, containerId, beside, control.secret, {
          onClose: () => {
            if (kept) onClose();
          },
          // A frozen sandbox takes the connection and says nothing: its hello's wait is a stall too.
          helloStalls: true,
        });
        kept = true;
        return connection;
      } catch {
        // Not reachable from beside (a namespace this host cannot join after all): through the
        // engine, which says why when it cannot either.
      }
    }
    const transport = await withResume(docker, containerId, () =>
      docker.exec.start(
        containerId,
        { argv: [control.bin, "connect"], ...(control.user ? { user: control.user } : {}) },
        { stdin: true },
      ),
    );
    return SupervisorConnection.#greet(docker, containerId, transport, control.secret, { onClose, helloStalls: false });
  }

  /** Presents the secret and waits for the supervisor's hello. */
  static async #greet(
    docker: Engine,
    containerId: string,
    transport: ExecProcess,
    secret: string,
    { onClose, helloStalls }: { onClose: () => void; helloStalls: boolean },
  ): Promise<SupervisorConnection> {
    // A channel that hears nothing for a while may be talking to a paused sandbox: thaw it.
    const onStall = () => void resumeIfPaused(docker, containerId).catch(() => undefined);
    const connection = new SupervisorConnection(transport, onClose, onStall);
    const hello = new Promise<void>((resolve, reject) => {
      const stalled = setTimeout(helloStalls ? onStall : () => undefined, STALL_MS);
      stalled.unref();
      connection.#channels.set(0, {
        frame: (frame) => {
          if (frame.kind === FRAME.hello) {
            clearTimeout(stalled);
            resolve();
          }
        },
        lost: (error) => {
          clearTimeout(stalled);
          // Perhaps no supervisor could start: the next sandbox made here checks, and repairs, the placed binary.
          forgetPlacement(docker);
          if (error instanceof SupervisorBinaryError) {
            reject(error);
            return;
          }
          // A supervisor closes a connection it refuses with nothing said: say why that happens.
          reject(
            new SandfleetError(
              `${error.message} (before its hello: the supervisor refused the connection, ` +
                `or its binary is missing or damaged)`,
            ),
          );
        },
      });
    });
    connection.#listen(containerId);
    // The secret first: the supervisor serves nothing, not even its hello, to a connection without it.
    transport.stdin?.write(authFrame(secret));
    await hello;
    connection.#channels.delete(0);
    connection.#updateHold();
    return connection;
  }

  #listen(containerId: string): void {
    const stderr: Buffer[] = [];
    this.#transport.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    // The first bytes, kept to say what answered when it was no supervisor.
    let first = Buffer.alloc(0);
    this.#transport.stdout.on("data", (chunk: Buffer) => {
      if (first.length < 512) first = Buffer.concat([first, chunk]).subarray(0, 512);
      let frames: Frame[];
      try {
        frames = this.#parser.push(chunk);
      } catch (error) {
        this.#fail(
          badStart(containerId, first) ??
            new EngineError(`the supervisor of sandbox ${containerId} sent a bad frame: ${String(error)}`),
        );
        return;
      }
      for (const frame of frames) this.#channels.get(frame.channel)?.frame(frame);
    });
    const ended = (cause?: unknown) => {
      const said = Buffer.concat(stderr).toString("utf8").trim();
      const why = said || (cause instanceof Error ? cause.message : cutShort(this.#parser) || "the connection closed");
      this.#fail(new SandfleetError(`lost the connection to the supervisor of sandbox ${containerId}: ${why}`));
    };
    this.#transport.stdout.once("end", () => {
      ended();
    });
    this.#transport.stdout.once("error", ended);
    this.#transport.stdin?.once("error", ended);
  }

  #fail(error: Error): void {
    if (this.#lost) return;
    this.#lost = error;
    this.#onClose();
    const listeners = [...this.#channels.values()];
    this.#channels.clear();
    for (const listener of listeners) listener.lost(error);
    this.#transport.stdin?.destroy();
  }

  /**
   * Closes the connection when no command or file call goes through it, and
   * waits for its transport to end: a checkpoint cannot keep a socket that
   * leads out of the sandbox. Says whether it closed it.
   */
  async closeIdle(): Promise<boolean> {
    if ([...this.#channels.keys()].some((channel) => channel !== 0)) return false;
    // Its input ended, not cut: the supervisor then closes its side, and the transport ends whole.
    this.#onClose();
    this.#transport.hold(true); // an idle connection holds nothing: this wait keeps the process running
    this.#transport.stdin?.end();
    this.#transport.stderr.resume();
    await this.#transport.wait().catch(() => undefined);
    this.#fail(new Error("the connection to the supervisor was closed for a checkpoint"));
    return true;
  }

  /** Whether the connection still works. */
  get open(): boolean {
    return this.#lost === undefined;
  }

  /** Starts an operation on a new channel; returns the channel's number. */
  openChannel(
    request: SupervisorRequest,
    listener: ChannelListener,
    /** wakes: false for an observer's question, which must not thaw a paused sandbox. */
    options: { holdsProcess?: boolean; wakes?: boolean } = {},
  ): number {
    if (this.#lost) throw this.#lost;
    const channel = this.#next++;
    if (options.holdsProcess === false) this.#unheld.add(channel);
    const stalled = setTimeout(options.wakes === false ? () => undefined : this.#onStall, STALL_MS);
    stalled.unref();
    this.#channels.set(channel, {
      frame: (frame) => {
        clearTimeout(stalled);
        if (frame.kind === FRAME.exit || frame.kind === FRAME.done || frame.kind === FRAME.failure) {
          this.#channels.delete(channel);
          this.#unheld.delete(channel);
          this.#updateHold();
        }
        listener.frame(frame);
      },
      lost: (error) => {
        clearTimeout(stalled);
        listener.lost(error);
      },
    });
    this.#updateHold();
    this.send(FRAME.open, channel, jsonPayload(request));
    return channel;
  }

  /** Sends one frame; the callback runs once it is handed to the engine. */
  send(kind: FrameKind, channel: number, payload?: Uint8Array, callback?: (error?: Error | null) => void): void {
    const stdin = this.#transport.stdin;
    if (this.#lost || !stdin) {
      callback?.(this.#lost ?? new Error("no connection"));
      return;
    }
    stdin.write(encodeFrame(kind, channel, payload), callback);
  }

  /** Sends bytes as input frames, as large as the protocol allows. */
  sendInput(channel: number, data: Uint8Array, callback: (error?: Error | null) => void): void {
    if (data.length === 0) {
      callback();
      return;
    }
    for (let at = 0; at < data.length; at += INPUT_CHUNK) {
      const last = at + INPUT_CHUNK >= data.length;
      this.send(FRAME.input, channel, data.subarray(at, at + INPUT_CHUNK), last ? callback : undefined);
    }
  }

  /** A channel whose operation answers once: its data frames, then its result. */
  async call<R extends DoneRequest>(
    request: R,
    input?: Uint8Array,
    options: { wakes?: boolean } = {},
  ): Promise<{ data: Buffer; result: Partial<DoneResults[R["op"]]> | undefined }> {
    const chunks: Buffer[] = [];
    return new Promise((resolve, reject) => {
      const channel = this.openChannel(
        request,
        {
          frame: (frame) => {
            if (frame.kind === FRAME.stdout) chunks.push(frame.payload);
            else if (frame.kind === FRAME.done)
              resolve({ data: Buffer.concat(chunks), result: parsePayload<DoneResults[R["op"]]>(frame.payload) });
            else if (frame.kind === FRAME.failure) reject(failureOf(frame.payload));
          },
          lost: reject,
        },
        options,
      );
      if (input !== undefined) {
        this.sendInput(channel, input, () => undefined);
        this.send(FRAME.endInput, channel);
      }
    });
  }

  /** A writable stream whose bytes are the channel's input; ending it ends the input. */
  inputStream(channel: number): Writable {
    return new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        this.sendInput(channel, chunk, callback);
      },
      final: (callback) => {
        this.send(FRAME.endInput, channel, undefined, () => {
          callback();
        });
      },
    });
  }

  // Open while a channel is: an idle connection must not keep a script from exiting.
  #updateHold(): void {
    this.#transport.hold(this.#channels.size > this.#unheld.size);
  }
}

/**
 * What to say when the engine, not a supervisor, answered: its exec could
 * not start the binary (missing, damaged, not executable), and said so on stdout.
 */
function badStart(containerId: string, first: Buffer): SupervisorBinaryError | undefined {
  const failure = startFailure(first.toString("utf8"));
  if (!failure) return undefined;
  return new SupervisorBinaryError(
    `the supervisor of sandbox ${containerId} could not be started (${failure.message}): its binary is missing or damaged; ` +
      `sandboxes made from now on get a repaired copy, this one needs to be made again`,
  );
}

/** What to say of a connection that closed inside a frame; empty when it closed between frames. */
function cutShort(parser: FrameParser): string {
  try {
    parser.end();
    return "";
  } catch (error) {
    return (error as Error).message;
  }
}

export function failureOf(payload: Buffer): SupervisorFailure {
  const parsed = parsePayload<FailureReply>(payload);
  return new SupervisorFailure(parsed?.code ?? "failed", parsed?.message ?? "the supervisor failed");
}
