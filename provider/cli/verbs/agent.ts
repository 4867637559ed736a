import { parseDuration, serveMetrics, webhookRetentionProblem } from "../../index.ts";
import { client } from "../client.ts";
import { EXIT, stringOption, UsageError, type Verb } from "../verb.ts";

export const agent: Verb = {
  usage:
    "sandfleet agent [--app APP] [--interval 1s] [--metrics-addr 127.0.0.1:9464] [--state-dir DIR] [--webhook-retention 24h] [--once] [--json]",
  examples: [
    "sandfleet agent",
    "sandfleet agent --metrics-addr :9464",
    "sandfleet agent --state-dir /var/lib/sandfleet --webhook-retention 72h",
    "sandfleet agent --once --json",
  ],
  options: {
    interval: { type: "string" },
    once: { type: "boolean" },
    app: { type: "string" },
    "metrics-addr": { type: "string" },
    "state-dir": { type: "string" },
    "webhook-retention": { type: "string" },
  },
  async run({ values, json }) {
    const interval = stringOption(values, "interval") ?? "1s";
    const intervalMs = parseDuration(interval);
    if (intervalMs === undefined) throw new UsageError(`--interval ${interval} is not a duration like 1s`);
    const retention = stringOption(values, "webhook-retention");
    const retentionMs = retention === undefined ? undefined : parseDuration(retention);
    if (retention !== undefined && retentionMs === undefined)
      throw new UsageError(`--webhook-retention ${retention} is not a duration like 24h`);
    const retentionProblem = retentionMs === undefined ? undefined : webhookRetentionProblem(retentionMs);
    if (retentionProblem) throw new UsageError(`--webhook-retention ${retentionProblem}`);
    const stateDir = stringOption(values, "state-dir");
    const sandfleet = client();
    await sandfleet.ping();
    const app = stringOption(values, "app");
    const metricsAddress = stringOption(values, "metrics-addr");
    const metrics = metricsAddress !== undefined ? await sandfleet.agentMetrics(app) : undefined;
    const instance = sandfleet.agent({
      ...(app ? { app } : {}),
      ...(metrics ? { metrics } : {}),
      intervalMs,
      webhooks: {
        ...(stateDir !== undefined ? { stateDir } : {}),
        ...(retentionMs !== undefined ? { retentionMs } : {}),
      },
      onEvent: (event) => {
        const line = json
          ? JSON.stringify({ time: new Date().toISOString(), ...event })
          : `${new Date().toISOString()} ${event.action} ${event.sandbox ?? ""} ${event.reason ?? ""} ${event.detail ?? ""}`.trimEnd();
        (event.action === "error" ? console.error : console.log)(line);
      },
    });
    if (values.once === true) {
      await instance.reconcileOnce();
      return EXIT.ok;
    }
    const controller = new AbortController();
    for (const signal of ["SIGINT", "SIGTERM"] as const)
      process.once(signal, () => {
        controller.abort();
      });
    const served =
      instance.metrics && metricsAddress !== undefined
        ? await serveMetrics(instance.metrics.registry, metricsAddress)
        : undefined;
    if (!json) {
      console.log(`sandfleet agent watching ${app ? `app ${app} on ` : ""}${sandfleet.engine} every ${interval}`);
      if (served) console.log(`metrics at ${served.url}`);
    }
    try {
      await instance.run(controller.signal);
    } finally {
      await served?.close();
    }
    return EXIT.ok;
  },
};
