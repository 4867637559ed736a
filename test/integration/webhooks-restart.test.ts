// Webhook deliveries survive a receiver that is down and an agent that is
// killed and started again: every sandbox event reaches the receiver once it
// is back, in order, each under the delivery id it was first queued with.
import { spawn, type ChildProcess } from "node:child_process";
import { createHmac } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Sandfleet } from "../../provider/client/sandfleet.ts";
import { appProvider } from "../../provider/resources/app-provider.ts";
import { eventKey, type SandboxEvent } from "../../provider/runtime/engine-state/event-kinds.ts";
import { cliPath } from "../support/cli.ts";
import { cleanupApp, docker, uniqueApp } from "../support/engine.ts";
import { parsePrometheus, sampleValue } from "../support/prometheus.ts";
import { until } from "../support/until.ts";

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A port on 127.0.0.1 that nothing listens on (yet): the receiver is down. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** The files of the deliveries waiting under a state directory: id and body of each. */
function queued(stateDir: string): { id: string; body: string }[] {
  return readdirSync(stateDir, { recursive: true, encoding: "utf8" })
    .filter((f) => /\d{16}\.json$/.test(f))
    .map((f) => JSON.parse(readFileSync(join(stateDir, f), "utf8")) as { id: string; body: string });
}

describe("webhook deliveries across a receiver outage and an agent restart", () => {
  const app = uniqueApp("hookq");
  const key = "a-restart-test-signing-key";
  const stateDir = mkdtempSync(join(tmpdir(), "sandfleet-agent-state-"));
  const logDir = mkdtempSync(join(tmpdir(), "sandfleet-agent-logs-"));
  const sandfleet = new Sandfleet({ docker });
  const agents: ChildProcess[] = [];
  let receiver: Server | undefined;
  const watch = new AbortController();

  afterAll(async () => {
    watch.abort();
    for (const agent of agents) agent.kill("SIGKILL");
    await new Promise<void>((resolve) => {
      if (receiver)
        receiver.close(() => {
          resolve();
        });
      else resolve();
    });
    await cleanupApp(app);
    for (const dir of [stateDir, logDir]) rmSync(dir, { recursive: true, force: true });
  });

  /** Starts `sandfleet agent` for the app on the state directory; resolves once it runs, with its output so far. */
  async function startAgent(): Promise<{ agent: ChildProcess; output: () => string }> {
    // Its output goes to a file: all of it is there, even what it wrote just before it was killed.
    const log = join(logDir, `agent-${String(agents.length + 1)}.log`);
    const fd = openSync(log, "w");
    const agent = spawn(
      process.execPath,
      [cliPath, "agent", "--app", app, "--interval", "200ms", "--state-dir", stateDir, "--metrics-addr", "127.0.0.1:0"],
      { env: { ...process.env, HOOK_KEY: key }, stdio: ["ignore", fd, fd] },
    );
    closeSync(fd);
    agents.push(agent);
    const output = () => readFileSync(log, "utf8");
    // It prints where its metrics are once it has begun to run: events from then on are its.
    await until("the agent to start", () => Promise.resolve(/metrics at \S+/.test(output())), 30_000);
    return { agent, output };
  }

  it("delivers every event once the receiver is back, in order, with the ids they were queued with", async () => {
    const port = await freePort();
    const checked = await appProvider.check(
      {},
      {
        name: app,
        webhooks: [{ url: `http://127.0.0.1:${String(port)}/hooks`, allowPrivate: true, secretEnv: "HOOK_KEY" }],
      },
    );
    expect(checked.failures ?? []).toEqual([]);
    await appProvider.create(checked.inputs as Record<string, unknown>);

    // What happened, as the engine's stream tells it to this test: what the receiver must get.
    const happened: SandboxEvent[] = [];
    const watching = (async () => {
      for await (const e of sandfleet.events({ app, signal: watch.signal, sinceMs: Date.now() })) happened.push(e);
    })().catch(() => undefined);
    const lifecycle = async (name: string) => {
      const sandbox = await sandfleet.sandboxes.create({ app, image: "sandfleet/busybox", name });
      await sandbox.pause();
      await sandbox.resume();
      await sandbox.terminate();
      await until(`the end of ${name}`, () =>
        Promise.resolve(happened.some((e) => e.sandbox === name && e.kind === "ended")),
      );
    };
    const allQueued = (what: string) =>
      until(what, () => Promise.resolve(queued(stateDir).length === happened.length), 60_000);

    const first = await startAgent();
    await lifecycle("before-restart");
    await allQueued("the first sandbox's events to be queued while the receiver is down");
    const idsBefore = new Map(queued(stateDir).map((q) => [q.body, q.id]));
    await until("an attempt to meet the closed port", () =>
      Promise.resolve(/not delivered \(attempt \d+\): connect ECONNREFUSED/.test(first.output())),
    );

    // Killed, as a crash or the OOM killer would; a sandbox lives and ends while no agent runs.
    first.agent.kill("SIGKILL");
    await new Promise((resolve) => first.agent.once("exit", resolve));
    await lifecycle("while-no-agent");
    const second = await startAgent();
    await until("the new agent to take over the dead one's lock", () =>
      Promise.resolve(second.output().includes("took over the queue")),
    );
    await lifecycle("after-restart");
    await allQueued("every event to be queued");
    expect(happened.length).toBeGreaterThanOrEqual(12);

    // The receiver comes back.
    const received: Received[] = [];
    receiver = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk: Buffer) => (body += chunk.toString()));
      request.on("end", () => {
        received.push({ headers: request.headers, body });
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver?.listen(port, "127.0.0.1", resolve));
    const kept = () => {
      const seen = new Set<string>();
      return received.filter((r) => {
        const id = String(r.headers["x-sandfleet-delivery"]);
        return !seen.has(id) && seen.add(id);
      });
    };
    await until("every event to arrive", () => Promise.resolve(kept().length >= happened.length), 120_000);

    const arrived = kept().map((r) => JSON.parse(r.body) as SandboxEvent);
    expect(arrived.map(eventKey)).toEqual(happened.map(eventKey));
    for (const r of kept()) {
      const before = idsBefore.get(r.body);
      if (before) expect(r.headers["x-sandfleet-delivery"]).toBe(before);
      const timestamp = String(r.headers["x-sandfleet-timestamp"]);
      const expected = createHmac("sha256", key).update(`${timestamp}.${r.body}`).digest("hex");
      expect(r.headers["x-sandfleet-signature"]).toBe(`sha256=${expected}`);
    }
    expect(idsBefore.size).toBeGreaterThanOrEqual(4);
    await until("the queue to be empty", () => Promise.resolve(queued(stateDir).length === 0));

    // What the agent counted, on its metrics endpoint.
    const url = /metrics at (\S+)/.exec(second.output())?.[1] ?? "";
    const samples = parsePrometheus(await (await fetch(url)).text());
    const labels = { app };
    const sum = (name: string) =>
      samples.filter((s) => s.name === name && s.labels.app === app).reduce((total, s) => total + s.value, 0);
    expect(sum("sandfleet_webhook_deliveries_delivered_total")).toBe(happened.length);
    expect(sum("sandfleet_webhook_deliveries_retried_total")).toBeGreaterThan(0);
    expect(sum("sandfleet_webhook_deliveries_waiting")).toBe(0);
    expect(sampleValue(samples, "sandfleet_webhook_deliveries_dropped_total", labels)).toBeUndefined();
    // The receiver is named by origin and a hash of the whole URL: a token in its path stays out.
    const receivers = new Set(
      samples
        .filter((s) => s.name.startsWith("sandfleet_webhook_") && s.labels.app === app)
        .map((s) => s.labels.receiver),
    );
    expect([...receivers]).toEqual([
      expect.stringMatching(new RegExp(`^http://127\\.0\\.0\\.1:${String(port)}#[0-9a-f]{8}$`)),
    ]);

    // Stopped as a service manager stops it: it exits 0 and leaves no lock behind.
    const exited = new Promise((resolve) => second.agent.once("exit", resolve));
    second.agent.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(readdirSync(stateDir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith("/lock"))).toEqual([]);
    watch.abort();
    await watching;
  });
});
