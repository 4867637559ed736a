import { spawn } from "node:child_process";
import type { ContainerInfo, ExecProcess } from "../port.ts";
import { isContainersProcess } from "./host-process.ts";

/**
 * Starts a program of this host's beside a container, told which process
 * is the container's first (`--pid N --container ID`, appended), whose
 * network namespace it joins itself: it holds that process, checks that
 * its cgroup names the container and that it is still alive once the
 * namespace is open, so a pid given up and taken by another process is never
 * joined. Only on the engine's own host: the container's first process must
 * be visible here as the container's, the runtime must keep the network in
 * the host's kernel (runc; gVisor keeps its own), and this process must be
 * root, which joining a namespace needs. Anywhere else it answers undefined
 * and the caller uses an exec.
 */
export function startBeside(container: ContainerInfo | undefined, argv: readonly string[]): ExecProcess | undefined {
  if (!container?.running || container.runtime === "runsc" || process.getuid?.() !== 0) return undefined;
  const [program, ...args] = argv;
  if (!program || !isContainersProcess(container.pid, container.id)) return undefined;
  const child = spawn(program, [...args, "--pid", String(container.pid), "--container", container.id], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const exited = new Promise<number>((resolve) => {
    child.once("close", (code, signal) => {
      resolve(code ?? (signal ? 128 : 1));
    });
    child.once("error", () => {
      resolve(127);
    });
  });
  const pipes = [child.stdin, child.stdout, child.stderr] as Partial<{ ref(): void; unref(): void }>[];
  return {
    execId: `beside-${String(child.pid ?? 0)}`,
    stdout: child.stdout,
    stderr: child.stderr,
    stdin: child.stdin,
    hold(keep) {
      for (const pipe of pipes) {
        if (keep) pipe.ref?.();
        else pipe.unref?.();
      }
      if (keep) child.ref();
      else child.unref();
    },
    wait: () => exited,
  };
}
