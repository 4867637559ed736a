import { runCommand, type RunResult } from "./run.ts";

export const cliPath = new URL("../../provider/cli/main.ts", import.meta.url).pathname;

export type CliResult = RunResult;

/** Runs the real `sandfleet` command, from this checkout's sources, in a child process. */
export function sandfleet(
  args: string[],
  options: { input?: string; env?: Record<string, string>; cwd?: string } = {},
): Promise<CliResult> {
  return runCommand(process.execPath, [cliPath, ...args], options);
}
