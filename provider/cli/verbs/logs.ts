import { connectDocker } from "../../docker/client.ts";
import { readAll } from "../../streams.ts";
import { resolveSandbox } from "../sandbox-ref.ts";
import { printJson } from "../output.ts";
import { EXIT, stringOption, UsageError, type Verb } from "../verb.ts";

export const logs: Verb = {
  name: "logs",
  summary: "print what a sandbox's main process wrote; -f follows",
  usage: "sandfleet logs SANDBOX [-f] [--tail N] [--json]",
  examples: ["sandfleet logs web/server -f", "sandfleet logs 3f2a9c --tail 100"],
  options: { follow: { type: "boolean", short: "f" }, tail: { type: "string" } },
  async run({ values, positionals, json }) {
    const [ref] = positionals;
    if (!ref) throw new UsageError("needs a sandbox");
    const tailText = stringOption(values, "tail");
    const tail = tailText === undefined ? undefined : Number(tailText);
    if (tail !== undefined && !(Number.isInteger(tail) && tail >= 0))
      throw new UsageError("--tail needs a whole number");
    const sandbox = await resolveSandbox(ref);
    const follow = values.follow === true && !json;
    const streams = await connectDocker().containers.logs(sandbox.id, {
      follow,
      ...(tail !== undefined ? { tail } : {}),
    });
    if (json) {
      const [stdout, stderr] = await Promise.all([readAll(streams.stdout), readAll(streams.stderr)]);
      printJson({ stdout: stdout.toString("utf8"), stderr: stderr.toString("utf8") });
      return EXIT.ok;
    }
    streams.stdout.pipe(process.stdout);
    streams.stderr.pipe(process.stderr);
    await Promise.all([
      new Promise((resolve) => streams.stdout.on("end", resolve)),
      new Promise((resolve) => streams.stderr.on("end", resolve)),
    ]);
    return EXIT.ok;
  },
};
