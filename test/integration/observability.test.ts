import { spawn, type ChildProcess } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandfleet } from "../../provider/client/sandfleet.ts";
import { appProvider } from "../../provider/resources/app-provider.ts";
import { poolProvider } from "../../provider/resources/pool-provider.ts";
import type { SandboxEvent } from "../../provider/runtime/observability/events.ts";
import { cliPath } from "../support/cli.ts";
import { cleanupApp, docker, uniqueApp } from "../support/engine.ts";
import { parsePrometheus, sampleValue, type Sample } from "../support/prometheus.ts";
import { sleep, until } from "../support/until.ts";

async function checkedCreate(provider: typeof appProvider, inputs: Record<string, unknown>): Promise<void> {
  const checked = await provider.check({}, inputs);
  expect(checked.failures ?? []).toEqual([]);
  await provider.create(checked.inputs as Record<string, unknown>);
}

describe("sandfleet agent --metrics-addr", () => {
  const app = uniqueApp("metrics");
  const sandfleet = new Sandfleet({ docker });
  let agent: ChildProcess;
  let url = "";

  beforeAll(async () => {
    await checkedCreate(poolProvider, {
      app,
      name: "warm",
      replicas: 2,
      template: { image: "sandfleet/busybox", memoryMiB: 32 },
    });
    agent = spawn(
      process.execPath,
      [cliPath, "agent", "--app", app, "--interval", "200ms", "--metrics-addr", "127.0.0.1:0"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    agent.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString()));
    await until("the agent to serve metrics", () => Promise.resolve(/metrics at (\S+)/.test(out)), 30_000);
    url = /metrics at (\S+)/.exec(out)?.[1] ?? "";
  });
  afterAll(async () => {
    // The agent is gone before the app is cleaned up: a pass still under way would refill the pool after it.
    if (agent.exitCode === null && agent.signalCode === null) {
      const exited = new Promise((resolve) => agent.once("exit", resolve));
      agent.kill("SIGTERM");
      await exited;
    }
    await cleanupApp(app);
  });

  const scrape = async (): Promise<Sample[]> => {
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    return parsePrometheus(await response.text());
  };

  it("reports a known load: CPU seconds grow by about one per second, and the memory it holds", async () => {
    const busy = await sandfleet.sandboxes.create({
      app,
      image: "sandfleet/python",
      name: "busy",
      memoryMiB: 256,
      command: ["python3", "-c", "b = bytearray(96 * 1024 * 1024)\nwhile True: b[0] = 1"],
    });
    await sleep(1500);
    const first = await scrape();
    const t0 = Date.now();
    await sleep(2000);
    const second = await scrape();
    const elapsed = (Date.now() - t0) / 1000;
    const labels = { app, sandbox: "busy" };
    const cpu = (s: Sample[]) => sampleValue(s, "sandfleet_sandbox_cpu_seconds", labels) ?? Number.NaN;
    // One busy thread: up to one CPU second per second; on a machine busy with other work, less,
    // but never nothing.
    expect((cpu(second) - cpu(first)) / elapsed).toBeGreaterThan(0.25);
    expect((cpu(second) - cpu(first)) / elapsed).toBeLessThan(1.3);
    expect(sampleValue(second, "sandfleet_sandbox_memory_bytes", labels)).toBeGreaterThan(96 * 1024 * 1024);
    expect(sampleValue(second, "sandfleet_sandbox_memory_limit_bytes", labels)).toBe(256 * 1024 * 1024);
    expect(sampleValue(second, "sandfleet_sandbox_pids", labels)).toBeGreaterThanOrEqual(1);
    await busy.terminate();
  });

  it("counts pool members, claims with their latency, execs and ends by reason", async () => {
    const claimed = await sandfleet.sandboxes.claim(app, "warm");
    for (let i = 0; i < 3; i++) await claimed.run(["true"]);
    const exits = await sandfleet.sandboxes.create({
      app,
      image: "sandfleet/busybox",
      command: ["sh", "-c", "exit 2"],
    });
    await exits.wait();
    let samples: Sample[] = [];
    const pool = { app, pool: "warm" };
    await until(
      "the metrics to show the claim, the refill, the execs and the end",
      async () => {
        samples = await scrape();
        return (
          sampleValue(samples, "sandfleet_pool_members", { ...pool, state: "ready" }) === 2 &&
          sampleValue(samples, "sandfleet_pool_members", { ...pool, state: "claimed" }) === 1 &&
          (sampleValue(samples, "sandfleet_execs_total", { app }) ?? 0) >= 3 &&
          (sampleValue(samples, "sandfleet_sandboxes_ended_total", { app, reason: "exit" }) ?? 0) >= 1
        );
      },
      30_000,
    );
    expect(sampleValue(samples, "sandfleet_execs_total", { app })).toBe(3);
    expect(sampleValue(samples, "sandfleet_pool_replicas", { app, pool: "warm" })).toBe(2);
    expect(sampleValue(samples, "sandfleet_claims_total", { app, pool: "warm" })).toBe(1);
    expect(sampleValue(samples, "sandfleet_claim_latency_seconds_count", { app, pool: "warm" })).toBe(1);
    expect(sampleValue(samples, "sandfleet_claim_latency_seconds_sum", { app, pool: "warm" })).toBeLessThan(5);
    // The busy sandbox of the test before was terminated.
    expect(
      sampleValue(samples, "sandfleet_sandboxes_ended_total", { app, reason: "terminated" }),
    ).toBeGreaterThanOrEqual(1);

    await claimed.pause();
    await until(
      "the paused member to be counted",
      async () => {
        samples = await scrape();
        return sampleValue(samples, "sandfleet_pool_members", { ...pool, state: "paused" }) === 1;
      },
      10_000,
    );
    expect(sampleValue(samples, "sandfleet_pool_members", { ...pool, state: "claimed" })).toBe(0);
    expect(sampleValue(samples, "sandfleet_sandboxes", { app, status: "paused" })).toBe(1);
  });
});

interface Received {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

describe("webhooks declared on an app", () => {
  const app = uniqueApp("hooks");
  const key = "a-test-signing-key";
  const received: Received[] = [];
  let receiver: Server;
  let failNext = 1;

  beforeAll(async () => {
    receiver = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk: Buffer) => (body += chunk.toString()));
      request.on("end", () => {
        // The first delivery meets a receiver that is down for a moment.
        const status = failNext-- > 0 ? 500 : 200;
        received.push({ status, headers: request.headers, body });
        response.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const port = (receiver.address() as AddressInfo).port;
    await checkedCreate(appProvider, {
      name: app,
      webhooks: [
        {
          url: `http://127.0.0.1:${String(port)}/hooks`,
          events: ["created", "ended"],
          secretEnv: "HOOK_KEY",
          allowPrivate: true,
        },
        // A receiver that never answers holds up nothing.
        { url: "http://127.0.0.1:9/never", secretEnv: "HOOK_KEY", allowPrivate: true },
      ],
    });
  });
  afterAll(async () => {
    receiver.close();
    await cleanupApp(app);
  });

  it("posts signed events, retries after a 500, and a dead receiver blocks nothing", async () => {
    const sandfleet = new Sandfleet({ docker });
    const errors: string[] = [];
    const agent = sandfleet.agent({
      app,
      intervalMs: 200,
      webhooks: {
        env: { HOOK_KEY: key },
        retryBaseMs: 200,
        stateDir: mkdtempSync(join(tmpdir(), "sandfleet-hooks-state-")),
      },
      onEvent: (event) => {
        if (event.action === "error") errors.push(event.detail ?? "");
      },
    });
    const controller = new AbortController();
    const running = agent.run(controller.signal);
    try {
      await sleep(300); // its watch opens: the engine streams events from then on
      const sandbox = await sandfleet.sandboxes.create({ app, image: "sandfleet/busybox", name: "hooked" });
      await sandbox.pause();
      await sandbox.terminate();
      const delivered = () => received.filter((r) => r.status === 200).map((r) => JSON.parse(r.body) as SandboxEvent);
      await until("both events to be delivered", () => Promise.resolve(delivered().length === 2), 30_000);
      expect(delivered().map((e) => [e.kind, e.sandbox])).toEqual([
        ["created", "hooked"],
        ["ended", "hooked"],
      ]);
      expect(delivered()[1]).toMatchObject({ reason: "terminated", exitCode: 137, app });

      // The 500 was followed by the same delivery again.
      expect(received[0]?.status).toBe(500);
      expect(received[1]?.headers["x-sandfleet-delivery"]).toBe(received[0]?.headers["x-sandfleet-delivery"]);
      for (const r of received) {
        const timestamp = String(r.headers["x-sandfleet-timestamp"]);
        const expected = createHmac("sha256", key).update(`${timestamp}.${r.body}`).digest("hex");
        expect(r.headers["x-sandfleet-signature"]).toBe(`sha256=${expected}`);
        expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(60);
        // A body changed on the way no longer matches its signature.
        expect(createHmac("sha256", key).update(`${timestamp}.${r.body} `).digest("hex")).not.toBe(expected);
      }
      // The agent went on passing while the dead receiver's deliveries waited out their retries;
      // the one 500 is said, as each failed attempt is.
      expect(errors.filter((e) => !e.includes("127.0.0.1:9#"))).toEqual([
        expect.stringMatching(/not delivered \(attempt 1\): answered 500; next attempt in/),
      ]);
    } finally {
      controller.abort();
      await running;
    }
  });

  it("changes in place: the app keeps its network", async () => {
    const before = (await docker.networks.inspect(`sandfleet-${app}`))?.id;
    const olds = { name: app, internet: false, webhooks: [] };
    const news = { name: app, internet: false, webhooks: [{ url: "https://example.test/h", secretEnv: "HOOK_KEY" }] };
    const diff = await appProvider.diff(before ?? "", olds, news);
    expect(diff).toMatchObject({ changes: true, replaces: [] });
    await appProvider.update(before ?? "", { ...olds, networkId: before }, news);
    expect((await docker.networks.inspect(`sandfleet-${app}`))?.id).toBe(before);
    const read = await appProvider.read(before ?? "", { ...news, networkId: before });
    expect(read.inputs).toMatchObject({ webhooks: news.webhooks });
  });
});
