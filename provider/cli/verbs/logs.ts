import { client } from "../client.ts";
import { printJson } from "../output.ts";
import { EXIT, stringOption, UsageError, type Verb } from "../verb.ts";

export const logs: Verb = {
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
    const sandbox = await client().sandboxes.fromRef(ref);
    const streams = await sandbox.logs({
      follow: values.follow === true && !json,
      ...(tail !== undefined ? { tail } : {}),
    });
    if (json) {
      const [stdout, stderr, egressRefusals] = await Promise.all([
        text(streams.stdout),
        text(streams.stderr),
        sandbox.egressRefusals(),
      ]);
      printJson({ stdout, stderr, egressRefusals });
      return EXIT.ok;
    }
    streams.stdout.pipe(process.stdout);
    streams.stderr.pipe(process.stderr);
    await Promise.all([
      new Promise((resolve) => streams.stdout.on("end", resolve)),
      new Promise((resolve) => streams.stderr.on("end", resolve)),
    ]);
    // What the egress allowlist refused it, after its own output (a sandbox without one has none).
    for (const r of await sandbox.egressRefusals())
      console.error(
        r.more
          ? `${r.time} sandfleet egress: ${r.reason}`
          : `${r.time} sandfleet egress: refused ${r.destination}: ${r.reason}`,
      );
    return EXIT.ok;
  },
};

async function text(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString("utf8");
}
