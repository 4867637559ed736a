import type { Engine } from "../../engines/port.ts";
import type { ExecResult, HealthCheck } from "../../engines/port.ts";
import { GiveUp, pollUntil, type Clock } from "../local/poll.ts";
import { SandboxLostError } from "../../errors.ts";

/** How to tell that a sandbox is ready, as given by users. */
export interface ReadinessParams {
  /** Ready once something listens on this TCP port inside the sandbox. */
  tcpPort?: number;
  /** Ready once this command exits 0 inside the sandbox. */
  exec?: string[];
  /** Time between checks. Default 100. */
  intervalMs?: number;
  /** Longest wait. Default 5 minutes. */
  timeoutMs?: number;
}

export const READINESS_DEFAULTS = { intervalMs: 100, timeoutMs: 5 * 60 * 1000 } as const;

/** Runs a command in the sandbox being probed, by whichever path its execs take. */
export type RunInSandbox = (argv: readonly string[]) => Promise<ExecResult>;

/** One way of checking readiness; `check` resolves when ready and throws the reason when not. */
export interface Probe {
  readonly description: string;
  check(run: RunInSandbox): Promise<void>;
}

/** A port as /proc/net/tcp writes it: four upper-case hex digits. */
export function procNetPort(port: number): string {
  return port.toString(16).toUpperCase().padStart(4, "0");
}

/** A TCP port in LISTEN state, read from the sandbox's own /proc: works with or without a network. */
export function tcpProbe(port: number): Probe {
  const hexPort = procNetPort(port);
  return {
    description: `tcp port ${port}`,
    async check(run) {
      const result = await run(["cat", "/proc/net/tcp", "/proc/net/tcp6"]);
      // Columns: sl local_address rem_address st ...; state 0A is LISTEN.
      const listening = result.stdout
        .split("\n")
        .map((line) => line.trim().split(/\s+/))
        .some((cols) => cols[1]?.endsWith(`:${hexPort}`) && cols[3] === "0A");
      if (!listening) throw new Error(`nothing listens on port ${port}`);
    },
  };
}

export function execProbe(argv: readonly string[]): Probe {
  return {
    description: `exec ${JSON.stringify(argv)}`,
    async check(run) {
      const result = await run(argv);
      if (result.exitCode !== 0) {
        const detail = (result.stderr.trim() || result.stdout.trim()).split("\n").slice(-3).join(" | ");
        throw new Error(`exited with code ${result.exitCode}${detail ? `: ${detail}` : ""}`);
      }
    },
  };
}

/**
 * The health check of a sandbox without a probe: the engine's init answering,
 * which the engine mounts into every sandbox that runs with `init`.
 */
export const INIT_CHECK_ARGV: readonly string[] = ["/sbin/docker-init", "--version"];

/**
 * The engine's own health check for a sandbox, so that `docker ps` and
 * docker-bench see its state: the readiness probe when there is one, else a
 * check that needs nothing from the image (the init answering).
 */
export function healthCheckFor(readiness: ReadinessParams | undefined): HealthCheck {
  const timing = {
    intervalMs: 30_000,
    timeoutMs: 5_000,
    retries: 3,
    startPeriodMs: Math.min(readiness?.timeoutMs ?? READINESS_DEFAULTS.timeoutMs, READINESS_DEFAULTS.timeoutMs),
  };
  if (readiness?.exec) return { argv: readiness.exec, ...timing };
  if (readiness?.tcpPort !== undefined) {
    const hex = procNetPort(readiness.tcpPort);
    const listening = `grep -qE '^ *[0-9]+: [0-9A-F]+:${hex} [0-9A-F]+:[0-9A-F]+ 0A ' /proc/net/tcp /proc/net/tcp6`;
    return { argv: ["sh", "-c", listening], ...timing };
  }
  return { argv: INIT_CHECK_ARGV, ...timing };
}

/** The command line the engine reports for a health check's exec (its events join argv with spaces). */
export function healthCheckCommandLine(check: HealthCheck): string {
  return check.argv.join(" ");
}

export function probeFor(readiness: ReadinessParams): Probe | undefined {
  if (readiness.tcpPort !== undefined) return tcpProbe(readiness.tcpPort);
  if (readiness.exec !== undefined) return execProbe(readiness.exec);
  return undefined;
}

/**
 * Waits until the probe passes. Gives up at once when the sandbox has
 * stopped, since no probe can pass after that.
 */
export async function waitForProbe(
  docker: Engine,
  containerId: string,
  what: string,
  probe: Probe,
  run: RunInSandbox,
  params: { intervalMs: number; timeoutMs: number; clock?: Clock },
): Promise<void> {
  await pollUntil(
    `${what} (${probe.description})`,
    async () => {
      const container = await docker.containers.inspect(containerId);
      if (!container) throw new GiveUp("the sandbox no longer exists");
      const lost = container.trouble?.ended ? container.trouble : undefined;
      if (lost) throw new SandboxLostError(`${what} was lost: ${lost.reason}: ${lost.detail}`, lost.reason);
      if (!container.running) throw new GiveUp(`the sandbox exited with code ${container.exitCode}`);
      await probe.check(run);
    },
    params,
  );
}
