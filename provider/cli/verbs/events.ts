import { parseDuration, type SandboxEvent } from "../../index.ts";
import { client } from "../client.ts";
import { EXIT, stringOption, UsageError, type Verb } from "../verb.ts";

export const events: Verb = {
  usage: "sandfleet events [--app APP] [--since 10m] [--json]",
  examples: ["sandfleet events --app code-interpreter", "sandfleet events --since 1h --json"],
  options: { app: { type: "string" }, since: { type: "string" } },
  async run({ values, json }) {
    const app = stringOption(values, "app");
    const since = stringOption(values, "since");
    const sinceAgoMs = since === undefined ? undefined : parseDuration(since);
    if (since !== undefined && sinceAgoMs === undefined)
      throw new UsageError(`--since ${since} is not a duration like 10m`);
    const sandfleet = client();
    await sandfleet.ping();
    const controller = new AbortController();
    for (const signal of ["SIGINT", "SIGTERM"] as const)
      process.once(signal, () => {
        controller.abort();
      });
    const stream = sandfleet.events({
      ...(app ? { app } : {}),
      ...(sinceAgoMs !== undefined ? { sinceMs: Date.now() - sinceAgoMs } : {}),
      signal: controller.signal,
    });
    for await (const event of stream) console.log(json ? JSON.stringify(event) : eventLine(event));
    return EXIT.ok;
  },
};

function eventLine(event: SandboxEvent): string {
  const why = event.kind === "ended" ? ` ${event.reason ?? ""} (exit code ${String(event.exitCode ?? "")})` : "";
  const pool = event.pool !== undefined ? ` pool ${event.pool}` : "";
  const detail = event.detail !== undefined ? `: ${event.detail}` : "";
  return `${event.time} ${event.kind.padEnd(7)} ${event.app}/${event.sandbox}${pool}${why}${detail}`;
}
