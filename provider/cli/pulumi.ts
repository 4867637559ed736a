import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { checkLocalState, localBackendDir } from "./state-guard.ts";
import type { PreviewJson } from "./preview-summary.ts";
import { EXIT, stringOption, UsageError, type Options, type Verb } from "./verb.ts";

export const PULUMI_OPTIONS: Options = {
  stack: { type: "string", short: "s" },
  cwd: { type: "string", short: "C" },
};

function backendUrl(): string {
  // The local file backend unless told otherwise: no account, no network.
  return process.env.PULUMI_BACKEND_URL ?? `file://${homedir()}`;
}

/** Runs pulumi; with `capture`, its stdout is collected rather than shown. */
function runPulumi(args: string[], cwd: string, capture?: { stdout: string }): Promise<number> {
  const env = {
    ...process.env,
    PULUMI_BACKEND_URL: backendUrl(),
    PULUMI_CONFIG_PASSPHRASE: process.env.PULUMI_CONFIG_PASSPHRASE ?? "",
    PULUMI_SKIP_UPDATE_CHECK: "true",
  };
  return new Promise((resolve, reject) => {
    const child = spawn("pulumi", args, { cwd, env, stdio: ["inherit", capture ? "pipe" : "inherit", "inherit"] });
    child.stdout?.on("data", (chunk: Buffer) => {
      if (capture) capture.stdout += chunk.toString("utf8");
    });
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
    usage: `sandfleet ${name} [--stack STACK] [--cwd DIR]${name === "preview" ? " [--summary markdown]" : ""} [-- PULUMI_ARGS...]`,
    examples: [`sandfleet ${name} --stack dev`, `sandfleet ${name} -C stacks/agents -- --diff`],
    options: name === "preview" ? { ...PULUMI_OPTIONS, summary: { type: "string" } } : PULUMI_OPTIONS,
    async run({ values, rest, json }) {
      const cwd = stringOption(values, "cwd") ?? process.cwd();
      const stack = stringOption(values, "stack") ?? "dev";
      const summary = stringOption(values, "summary");
      if (summary !== undefined && (name !== "preview" || summary !== "markdown")) {
        throw new UsageError("--summary markdown is a preview option");
      }
      if (!guardState(cwd, stack)) return EXIT.failed;
      const selected = await runPulumi(["stack", "select", "--create", stack, "--non-interactive"], cwd);
      if (selected !== EXIT.ok) return EXIT.failed;
      if (summary) return printSummary(cwd, stack, rest);
      const code = await runPulumi([...command, "--stack", stack, ...(json ? ["--json"] : []), ...rest], cwd);
      if (code !== EXIT.ok) return EXIT.failed;
      if (name === "up") return refillAfterUp(cwd, stack);
      return EXIT.ok;
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

/** `pulumi preview --json`, told as a markdown table with the pools' live members. */
async function printSummary(cwd: string, stack: string, rest: string[]): Promise<number> {
  const output = { stdout: "" };
  const code = await runPulumi(["preview", "--json", "--stack", stack, ...rest], cwd, output);
  if (code !== EXIT.ok) {
    process.stderr.write(output.stdout);
    return EXIT.failed;
  }
  const { previewSummary } = await import("./preview-summary.ts");
  const preview = JSON.parse(output.stdout) as PreviewJson;
  const { client } = await import("./client.ts");
  const pools = await client()
    .pools.list()
    .catch(() => []);
  const live = new Map(pools.map((p) => [`${p.app}/${p.name}`, p]));
  process.stdout.write(previewSummary(preview, live, stack, await declaredSecretKeys(cwd, stack)));
  return EXIT.ok;
}

/**
 * The variable names of each secret the stack's sandfleet.yaml declares, by
 * `app/secret` (names only: the file holds no values). The file and the app
 * are the ones the program takes: stack config `sandfleet:file` and
 * `sandfleet:app` when set. A program that is not sandfleet's own declares
 * its Secrets elsewhere; its app's names then match none of these.
 */
async function declaredSecretKeys(cwd: string, stack: string): Promise<Map<string, string[]>> {
  const stackFile = join(cwd, `Pulumi.${stack}.yaml`);
  const config = existsSync(stackFile)
    ? ((parse(readFileSync(stackFile, "utf8")) as { config?: Record<string, unknown> } | null)?.config ?? {})
    : {};
  const named = (key: string) => (typeof config[key] === "string" ? config[key] : undefined);
  const file = join(cwd, named("sandfleet:file") ?? "sandfleet.yaml");
  if (!existsSync(file)) return new Map();
  const { loadSpecPath } = await import("../spec/load.ts");
  const spec = loadSpecPath(file, file).spec;
  if (!spec) return new Map();
  const app = named("sandfleet:app") ?? spec.app;
  return new Map(
    Object.entries(spec.secrets).map(([name, secret]) => [`${app}/${name}`, Object.keys(secret.values).sort()]),
  );
}

/** After `up`: the stack's pools back at their replicas, whatever claims took from them. */
async function refillAfterUp(cwd: string, stack: string): Promise<number> {
  const output = { stdout: "" };
  const code = await runPulumi(["stack", "export", "--show-secrets", "--stack", stack], cwd, output);
  if (code !== EXIT.ok) {
    process.stderr.write(
      "sandfleet: could not read the stack's pools to refill them; `sandfleet agent` refills them\n",
    );
    return EXIT.ok;
  }
  const { refillStackPools, stackPools } = await import("./refill.ts");
  await refillStackPools(stackPools(output.stdout), (line) => process.stderr.write(`sandfleet: ${line}\n`));
  return EXIT.ok;
}
