import type { SandboxMetrics } from "../../index.ts";
import { client } from "../client.ts";
import { printJson, printTable } from "../output.ts";
import { EXIT, stringOption, type Verb } from "../verb.ts";

/** How long CPU use is measured over: two samples this far apart. */
const SAMPLE_MS = 1000;

export const top: Verb = {
  usage: "sandfleet top [--app APP] [--json]",
  examples: ["sandfleet top --app code-interpreter", "sandfleet top --json"],
  options: { app: { type: "string" } },
  async run({ values, json }) {
    const app = stringOption(values, "app");
    const sandfleet = client();
    const summaries = await sandfleet.sandboxes.list(app ? { app } : {});
    const handles = await Promise.all(summaries.map((s) => sandfleet.sandboxes.fromId(s.id)));
    const sample = () => Promise.all(handles.map((h) => h.metrics().catch(() => undefined)));
    const first = await sample();
    await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
    const second = await sample();
    const rows = summaries.flatMap((s, i) => {
      const [a, b] = [first[i], second[i]];
      return a && b
        ? [{ id: s.id, name: `${s.app}/${s.name}`, status: s.status, cpuPercent: cpuPercent(a, b), ...b }]
        : [];
    });
    if (json) printJson(rows);
    else
      printTable(
        ["SANDBOX", "STATUS", "CPU", "MEMORY", "LIMIT", "PIDS", "NET IN/OUT", "DISK"],
        rows.map((r) => [
          r.name,
          r.status,
          `${r.cpuPercent.toFixed(1)}%`,
          mib(r.memoryBytes),
          mib(r.memoryLimitBytes),
          String(r.pids),
          `${mib(r.networkRxBytes)} / ${mib(r.networkTxBytes)}`,
          mib(r.diskBytes),
        ]),
      );
    return EXIT.ok;
  },
};

/** CPU use between two samples, as a share of one core. */
function cpuPercent(a: SandboxMetrics, b: SandboxMetrics): number {
  const elapsedNs = (Date.parse(b.sampledAt) - Date.parse(a.sampledAt)) * 1e6;
  return elapsedNs > 0 ? (100 * (b.cpuNs - a.cpuNs)) / elapsedNs : 0;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
