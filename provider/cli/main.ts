#!/usr/bin/env node
// The `sandfleet` command: one file per verb under verbs/, this file only dispatches.
import { parseArgs } from "node:util";
import { EngineUnavailableError, InvalidArgumentError, NotFoundError } from "../errors.ts";
import { pulumiVerb } from "./pulumi.ts";
import { EXIT, UsageError, type Verb } from "./verb.ts";
import { agent } from "./verbs/agent.ts";
import { claim } from "./verbs/claim.ts";
import { exec } from "./verbs/exec.ts";
import { gc } from "./verbs/gc.ts";
import { logs } from "./verbs/logs.ts";
import { ls } from "./verbs/ls.ts";
import { schema } from "./verbs/schema.ts";
import { snapshot } from "./verbs/snapshot.ts";
import { terminate } from "./verbs/terminate.ts";
import { validate } from "./verbs/validate.ts";

const verbs: Verb[] = [
  ls,
  exec,
  logs,
  terminate,
  snapshot,
  claim,
  gc,
  agent,
  validate,
  schema,
  pulumiVerb("preview", ["preview", "--diff"], "show what `up` would change (pulumi preview --diff)"),
  pulumiVerb("up", ["up", "--yes", "--skip-preview"], "provision the stack (pulumi up)"),
  pulumiVerb("destroy", ["destroy", "--yes", "--skip-preview"], "remove everything the stack made (pulumi destroy)"),
];

function help(verb?: Verb): string {
  if (!verb) {
    const width = Math.max(...verbs.map((v) => v.name.length));
    return [
      "sandfleet: Modal-style sandboxes on Docker engines you own",
      "",
      "usage: sandfleet VERB [OPTIONS]   (every verb takes --json and --help)",
      "",
      ...verbs.map((v) => `  ${v.name.padEnd(width)}  ${v.summary}`),
      "",
      "exit codes: 0 ok, 1 failed or invalid, 2 usage, 3 not found, 4 engine unreachable;",
      "exec passes the command's own exit code through.",
    ].join("\n");
  }
  return [verb.summary, "", `usage: ${verb.usage}`, "", "examples:", ...verb.examples.map((e) => `  ${e}`)].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const split = argv.indexOf("--");
  const [args, rest] = split >= 0 ? [argv.slice(0, split), argv.slice(split + 1)] : [argv, []];
  const [name, ...verbArgs] = args;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(help(verbs.find((v) => v.name === verbArgs[0])));
    return name ? EXIT.ok : EXIT.usage;
  }
  const verb = verbs.find((v) => v.name === name);
  if (!verb) {
    console.error(`sandfleet: unknown verb ${JSON.stringify(name)}\n\n${help()}`);
    return EXIT.usage;
  }
  let json = false;
  try {
    const { values, positionals } = parseArgs({
      args: verbArgs,
      options: { ...verb.options, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
    if (values.help === true) {
      console.log(help(verb));
      return EXIT.ok;
    }
    json = values.json === true;
    return await verb.run({ values, positionals, rest, json });
  } catch (error) {
    const code = exitCodeOf(error);
    const message = error instanceof Error ? error.message : String(error);
    if (json) console.log(JSON.stringify({ error: { kind: error instanceof Error ? error.name : "Error", message } }));
    else console.error(`sandfleet ${name}: ${message}${code === EXIT.usage ? `\n\nusage: ${verb.usage}` : ""}`);
    return code;
  }
}

function exitCodeOf(error: unknown): number {
  if (
    error instanceof UsageError ||
    (error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS"))
  ) {
    return EXIT.usage;
  }
  if (error instanceof InvalidArgumentError) return EXIT.usage;
  if (error instanceof NotFoundError) return EXIT.notFound;
  if (error instanceof EngineUnavailableError) return EXIT.engineUnavailable;
  return EXIT.failed;
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
