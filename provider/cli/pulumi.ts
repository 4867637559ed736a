import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { checkLocalState, localBackendDir } from "./state-guard.ts";
import { EXIT, stringOption, type Options, type Verb } from "./verb.ts";

export const PULUMI_OPTIONS: Options = {
  stack: { type: "string", short: "s" },
  cwd: { type: "string", short: "C" },
};

function backendUrl(): string {
  // The local file backend unless told otherwise: no account, no network.
  return process.env.PULUMI_BACKEND_URL ?? `file://${homedir()}`;
}

function runPulumi(args: string[], cwd: string): Promise<number> {
  const env = {
    ...process.env,
    PULUMI_BACKEND_URL: backendUrl(),
    PULUMI_CONFIG_PASSPHRASE: process.env.PULUMI_CONFIG_PASSPHRASE ?? "",
    PULUMI_SKIP_UPDATE_CHECK: "true",
  };
  return new Promise((resolve, reject) => {
    const child = spawn("pulumi", args, { cwd, env, stdio: "inherit" });
    child.on("error", (error) => {
      reject(new Error(`cannot run pulumi (${error.message}); put it on PATH (scripts/bootstrap builds it)`));
    });
    child.on("close", (code) => {
      resolve(code ?? EXIT.failed);
    });
  });
}

/** A verb that is `pulumi <command>` on the stack in --cwd, selected (and made) first. */
export function pulumiVerb(name: string, command: string[]): Verb {
  return {
    usage: `sandfleet ${name} [--stack STACK] [--cwd DIR] [-- PULUMI_ARGS...]`,
    examples: [`sandfleet ${name} --stack dev`, `sandfleet ${name} -C stacks/agents -- --diff`],
    options: PULUMI_OPTIONS,
    async run({ values, rest, json }) {
      const cwd = stringOption(values, "cwd") ?? process.cwd();
      const stack = stringOption(values, "stack") ?? "dev";
      if (!guardState(cwd, stack)) return EXIT.failed;
      const selected = await runPulumi(["stack", "select", "--create", stack, "--non-interactive"], cwd);
      if (selected !== EXIT.ok) return EXIT.failed;
      const code = await runPulumi([...command, "--stack", stack, ...(json ? ["--json"] : []), ...rest], cwd);
      return code === EXIT.ok ? EXIT.ok : EXIT.failed;
    },
  };
}

/** Says what a killed pulumi left in the local backend; false when the verb must not go on. */
function guardState(cwd: string, stack: string): boolean {
  const dir = localBackendDir(backendUrl());
  const projectFile = join(cwd, "Pulumi.yaml");
  if (!dir || !existsSync(projectFile)) return true;
  const project = (parse(readFileSync(projectFile, "utf8")) as { name?: unknown } | null)?.name;
  if (typeof project !== "string") return true;
  const findings = checkLocalState(dir, project, stack);
  for (const finding of findings) process.stderr.write(`sandfleet: ${finding.message}\n`);
  return !findings.some((f) => f.severity === "fatal");
}
