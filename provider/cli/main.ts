#!/usr/bin/env node
// The `sandfleet` command: one file per verb under verbs/, this file only dispatches.
import { parseArgs } from "node:util";
import { EXIT, UsageError, type Verb } from "./verb.ts";
import { VERBS, type VerbEntry } from "./verbs.ts";

function help(entry?: VerbEntry, verb?: Verb): string {
  if (!entry || !verb) {
    const width = Math.max(...VERBS.map((v) => v.name.length));
    return [
      "sandfleet: Modal-style sandboxes on Docker engines you own",
      "",
      "usage: sandfleet VERB [OPTIONS]   (every verb takes --json and --help)",
      "",
      ...VERBS.map((v) => `  ${v.name.padEnd(width)}  ${v.summary}`),
      "",
      "exit codes: 0 ok, 1 failed or invalid, 2 usage, 3 not found, 4 engine unreachable;",
      "exec passes the command's own exit code through.",
    ].join("\n");
  }
  return [entry.summary, "", `usage: ${verb.usage}`, "", "examples:", ...verb.examples.map((e) => `  ${e}`)].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const split = argv.indexOf("--");
  const [args, rest] = split >= 0 ? [argv.slice(0, split), argv.slice(split + 1)] : [argv, []];
  const [name, ...verbArgs] = args;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    const entry = VERBS.find((v) => v.name === verbArgs[0]);
    console.log(help(entry, await entry?.load()));
    return name ? EXIT.ok : EXIT.usage;
  }
  const entry = VERBS.find((v) => v.name === name);
  if (!entry) {
    console.error(`sandfleet: unknown verb ${JSON.stringify(name)}\n\n${help()}`);
    return EXIT.usage;
  }
  const verb = await entry.load();
  let json = false;
  try {
    const { values, positionals } = parseArgs({
      args: verbArgs,
      options: { ...verb.options, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
    if (values.help === true) {
      console.log(help(entry, verb));
      return EXIT.ok;
    }
    json = values.json === true;
    return await verb.run({ values, positionals, rest, json });
  } catch (error) {
    const code = await exitCodeOf(error);
    const message = error instanceof Error ? error.message : String(error);
    if (json) console.log(JSON.stringify({ error: { kind: error instanceof Error ? error.name : "Error", message } }));
    else console.error(`sandfleet ${name}: ${message}${code === EXIT.usage ? `\n\nusage: ${verb.usage}` : ""}`);
    return code;
  }
}

async function exitCodeOf(error: unknown): Promise<number> {
  if (
    error instanceof UsageError ||
    (error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS"))
  ) {
    return EXIT.usage;
  }
  // Loaded here, not at startup: `--help` and usage errors need none of the runtime.
  const { EngineUnavailableError, InvalidArgumentError, NotFoundError } = await import("../index.ts");
  if (error instanceof InvalidArgumentError) return EXIT.usage;
  if (error instanceof NotFoundError) return EXIT.notFound;
  if (error instanceof EngineUnavailableError) return EXIT.engineUnavailable;
  return EXIT.failed;
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
