import { PassThrough } from "node:stream";
import type { ContainerInfo, ExecClient, ExecProcess, ExecSpec } from "../../provider/engines/port.ts";
import { runToEnd } from "../../provider/engines/calls.ts";
import { ConflictError } from "../../provider/errors.ts";
import { notSupported } from "./memory-capabilities.ts";
import type { MemContainer } from "./memory-containers.ts";

// Execs of the in-memory engine (memory-engine.ts): nothing runs; a handler the test scripts answers.

/** What an exec handler is told: the exec as asked for, and the container as it is now. */
export interface ExecCall {
  argv: readonly string[];
  env: Readonly<Record<string, string>>;
  user: string | undefined;
  workdir: string | undefined;
  container: ContainerInfo;
  /** Aborts when the exec is signalled (signalTagged) or its container stops. */
  signal: AbortSignal;
}

export interface ExecAnswer {
  exitCode: number;
  stdout?: string;
  stderr?: string;
}

/** Answers an exec; undefined: this handler does not know the command (it fails as the Docker engine fails a missing one). */
export type ExecHandler = (call: ExecCall) => ExecAnswer | undefined | Promise<ExecAnswer | undefined>;

export interface MemExec {
  id: string;
  containerId: string;
  env: Readonly<Record<string, string>>;
  running: boolean;
  exitCode: number | null;
  abort: AbortController;
}

/** What the exec client needs of its engine. */
export interface ExecHost {
  readonly execs: Map<string, MemExec>;
  /** Asked in turn; the first that knows the command answers. */
  handlers(): readonly ExecHandler[];
  must(ref: string, what: string): MemContainer;
  find(ref: string): MemContainer | undefined;
  emit(c: MemContainer, action: string, extra: Record<string, string>): void;
  newId(kind: string): string;
  info(c: MemContainer): ContainerInfo;
}

export function memoryExecClient(host: ExecHost): ExecClient {
  const start: ExecClient["start"] = async (containerId, spec, options = {}) => {
    const c = host.must(containerId, "exec in container");
    await Promise.resolve();
    if (c.status === "paused") {
      throw new ConflictError(
        `exec in container ${containerId}: Container ${c.id} is paused, unpause the container before exec`,
      );
    }
    if (c.status !== "running")
      throw new ConflictError(`exec in container ${containerId}: Container ${c.id} is not running`);
    if (spec.tty) throw notSupported("an exec on a terminal");
    const exec: MemExec = {
      id: host.newId("exec"),
      containerId: c.id,
      env: { ...c.spec.env, ...spec.env },
      running: true,
      exitCode: null,
      abort: new AbortController(),
    };
    host.execs.set(exec.id, exec);
    c.execIds.push(exec.id);
    const commandLine = spec.argv.join(" ");
    host.emit(c, `exec_create: ${commandLine}`, { execID: exec.id });
    host.emit(c, `exec_start: ${commandLine}`, { execID: exec.id });
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const stdin = options.stdin ? new PassThrough() : undefined;
    stdin?.resume();
    const finished = answer(host, c, spec, exec).then((answer) => {
      exec.running = false;
      exec.exitCode = answer.exitCode;
      stdout.end(answer.stdout ?? "");
      stderr.end(answer.stderr ?? "");
      const now = host.find(c.id);
      if (now) host.emit(now, "exec_die", { execID: exec.id, exitCode: String(answer.exitCode) });
      return answer.exitCode;
    });
    const process: ExecProcess = {
      execId: exec.id,
      stdout,
      stderr,
      stdin,
      wait: () => finished,
      hold: () => undefined,
    };
    return process;
  };
  return {
    start,
    run: async (containerId, spec) => runToEnd(await start(containerId, spec)),
    inspect: async (execId) => {
      await Promise.resolve();
      const exec = host.execs.get(execId);
      return exec && { running: exec.running, exitCode: exec.exitCode };
    },
    resize: () => Promise.reject(notSupported("a terminal's size")),
    signalTagged: async (containerId, tag, signal) => {
      host.must(containerId, "signal processes in container");
      await Promise.resolve();
      for (const exec of host.execs.values()) {
        if (exec.containerId === containerId && exec.running && exec.env[tag.key] === tag.value) {
          exec.abort.abort(128 + signal);
        }
      }
    },
  };
}

/** The handlers' answer, or the exit code of a signal when the exec is signalled first. */
async function answer(host: ExecHost, c: MemContainer, spec: ExecSpec, exec: MemExec): Promise<ExecAnswer> {
  const signalled = new Promise<ExecAnswer>((resolve) => {
    const ended = () => {
      resolve({ exitCode: Number(exec.abort.signal.reason) });
    };
    exec.abort.signal.addEventListener("abort", ended, { once: true });
  });
  const answered = (async (): Promise<ExecAnswer> => {
    const call: ExecCall = {
      argv: spec.argv,
      env: exec.env,
      user: spec.user,
      workdir: spec.workdir,
      container: host.info(c),
      signal: exec.abort.signal,
    };
    for (const handler of host.handlers()) {
      const answer = await handler(call);
      if (answer) return answer;
    }
    // What the Docker engine writes when the command is not in the container.
    return {
      exitCode: 126,
      stdout: `OCI runtime exec failed: exec failed: container_linux.go:380: starting container process caused: exec: "${spec.argv[0] ?? ""}": executable file not found in $PATH: unknown\r\n`,
    };
  })();
  return Promise.race([answered, signalled]);
}
