import { hostname } from "node:os";
import { parseDuration, serveMetrics, webhookRetentionProblem } from "../../index.ts";
import { client } from "../client.ts";
import { EXIT, stringOption, UsageError, type Verb } from "../verb.ts";
import { AGENT_MANIFEST_OPTIONS, runAgentManifests } from "./agent-manifests.ts";
import { electedAgent, leaderOptions } from "./agent-leader.ts";

export const agent: Verb = {
  usage:
    "sandfleet agent [--app APP] [--interval 1s] [--metrics-addr 127.0.0.1:9464] [--state-dir DIR] [--webhook-retention 24h] [--leader-elect LEASE [--lease-namespace N] [--lease-duration 15s] [--identity NAME]] [--once] [--json]\n" +
    "       sandfleet agent manifests --image IMAGE [--namespace N] [--agent-namespace N] [--registry R] [--api-server HOST:PORT] [--app APP] [--replicas 2] [--apply | --delete] [--json]",
  examples: [
    "sandfleet agent",
    "sandfleet agent --metrics-addr :9464",
    "sandfleet agent --state-dir /var/lib/sandfleet --webhook-retention 72h",
    "sandfleet agent --once --json",
    "sandfleet agent --leader-elect sandfleet-agent --metrics-addr 0.0.0.0:9464",
    "sandfleet agent manifests --namespace sandboxes --image registry.internal:5000/sandfleet/agent:1",
    "sandfleet agent manifests --namespace sandboxes --image registry.internal:5000/sandfleet/agent:1 --apply",
  ],
  options: {
    interval: { type: "string" },
    once: { type: "boolean" },
    app: { type: "string" },
    "metrics-addr": { type: "string" },
    "state-dir": { type: "string" },
    "webhook-retention": { type: "string" },
    "leader-elect": { type: "string" },
    "lease-duration": { type: "string" },
    "lease-namespace": { type: "string" },
    identity: { type: "string" },
    ...AGENT_MANIFEST_OPTIONS,
  },
  async run({ values, positionals, json }) {
    const [sub, ...extra] = positionals;
    if (sub === "manifests" && extra.length === 0) return runAgentManifests(values, json);
    if (sub !== undefined)
      throw new UsageError(`agent takes no argument ${JSON.stringify(sub)} (did you mean agent manifests?)`);
    for (const option of Object.keys(AGENT_MANIFEST_OPTIONS))
      if (values[option] !== undefined) throw new UsageError(`--${option} belongs to agent manifests`);
    const leader = leaderOptions(values, hostname());
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
    const say = (event: { action: string; sandbox?: string; reason?: string; detail?: string }) => {
      const line = json
        ? JSON.stringify({ time: new Date().toISOString(), ...event })
        : `${new Date().toISOString()} ${event.action} ${event.sandbox ?? ""} ${event.reason ?? ""} ${event.detail ?? ""}`.trimEnd();
      (event.action === "error" ? console.error : console.log)(line);
    };
    const makeAgent = () =>
      sandfleet.agent({
        ...(app ? { app } : {}),
        ...(metrics ? { metrics } : {}),
        intervalMs,
        webhooks: {
          ...(stateDir !== undefined ? { stateDir } : {}),
          ...(retentionMs !== undefined ? { retentionMs } : {}),
        },
        onEvent: say,
      });
    if (values.once === true) {
      if (leader) throw new UsageError("--once makes one pass now: it takes no --leader-elect");
      await makeAgent().reconcileOnce();
      return EXIT.ok;
    }
    const controller = new AbortController();
    for (const signal of ["SIGINT", "SIGTERM"] as const)
      process.once(signal, () => {
        controller.abort();
      });
    const served =
      metrics && metricsAddress !== undefined ? await serveMetrics(metrics.registry, metricsAddress) : undefined;
    if (!json) {
      console.log(`sandfleet agent watching ${app ? `app ${app} on ` : ""}${sandfleet.engine} every ${interval}`);
      if (served) console.log(`metrics at ${served.url}`);
    }
    try {
      if (leader) await electedAgent(leader, { signal: controller.signal, makeAgent, say, metrics });
      else await makeAgent().run(controller.signal);
    } finally {
      await served?.close();
    }
    return EXIT.ok;
  },
};
