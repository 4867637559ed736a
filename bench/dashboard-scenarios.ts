import { Sandfleet } from "../provider/client/sandfleet.ts";
import { connectDocker } from "../provider/engines/docker/client.ts";
import { poolProvider } from "../provider/resources/pool-provider.ts";
import { serveDashboard } from "../provider/serve/dashboard.ts";
import { cleanupApp } from "../test/support/engine.ts";
import { run, type Figure } from "./measure.ts";
import { benchApp } from "./scenarios.ts";

const cliBin = new URL("../dist/bin/sandfleet.cjs", import.meta.url).pathname;

/** How many pages watch the dashboard at once. */
const PAGES = 5;

/**
 * 10. The dashboard's update latency: with `size` sandboxes (a warm pool) and
 * five pages open on its push stream, from `sandfleet pause` (then resume)
 * starting until every page has been told, against the command alone. The
 * dashboard reads the engine once per tick for all pages, and at once on the
 * engine's events.
 */
export async function dashboardLatency(size: number, runs: number): Promise<Figure[]> {
  const app = benchApp();
  const engine = connectDocker();
  const checked = await poolProvider.check(
    {},
    {
      app,
      name: "dash",
      replicas: size,
      template: { image: "sandfleet/busybox", memoryMiB: 32, readiness: { exec: ["true"], intervalMs: 20 } },
    },
  );
  await poolProvider.create(checked.inputs as Record<string, unknown>);
  const sandfleet = new Sandfleet({ docker: engine });
  const claimed = await sandfleet.sandboxes.claim(app, "dash");
  const served = await serveDashboard(sandfleet, { address: "127.0.0.1:0", app });
  const stop = new AbortController();
  try {
    const pages = await Promise.all(
      Array.from({ length: PAGES }, () => watchStatus(`${served.url}api/stream`, claimed.id, stop.signal)),
    );
    const latencies: number[] = [];
    const cliAlone: number[] = [];
    for (let i = 0; i < runs; i++) {
      for (const [verb, status] of [
        ["pause", "paused"],
        ["resume", "running"],
      ] as const) {
        const started = performance.now();
        const shown = Promise.all(pages.map((page) => page.until(status))).then(() => performance.now());
        await run(process.execPath, [cliBin, verb, claimed.id]);
        cliAlone.push(performance.now() - started);
        latencies.push((await shown) - started);
      }
    }
    return [
      {
        name: `dashboard update latency, ${String(size)} sandboxes`,
        value: median(latencies),
        unit: "ms",
        baselineName: "`sandfleet pause`/`resume` itself, to its return",
        baseline: median(cliAlone),
        note: `from the command's start until ${String(PAGES)} pages open on the push stream were told; the worst of ${String(latencies.length)}: ${Math.max(...latencies).toFixed(0)} ms`,
      },
    ];
  } finally {
    stop.abort();
    await served.close();
    await cleanupApp(app);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/** A page's view of one sandbox's status, read from the dashboard's push stream as a browser would. */
async function watchStatus(
  url: string,
  id: string,
  signal: AbortSignal,
): Promise<{ until: (status: string) => Promise<void> }> {
  const response = await fetch(url, { signal });
  const reader = (response.body as ReadableStream<Uint8Array> | null)?.getReader();
  if (!reader) throw new Error(`no stream at ${url}`);
  let status = "";
  const waiting: { status: string; resolve: () => void }[] = [];
  void (async () => {
    const decoder = new TextDecoder();
    let text = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = text.indexOf("\n\n")) >= 0) {
          const frame = text.slice(0, end);
          text = text.slice(end + 2);
          if (!frame.startsWith("event: overview\n")) continue;
          const overview = JSON.parse(frame.slice(frame.indexOf("data: ") + 6)) as {
            sandboxes: { id: string; status: string }[];
          };
          status = overview.sandboxes.find((s) => s.id === id)?.status ?? "";
          for (const w of waiting.filter((w) => w.status === status)) {
            waiting.splice(waiting.indexOf(w), 1);
            w.resolve();
          }
        }
      }
    } catch {
      // aborted at the end
    }
  })();
  return {
    until: (wanted) =>
      status === wanted ? Promise.resolve() : new Promise((resolve) => waiting.push({ status: wanted, resolve })),
  };
}
