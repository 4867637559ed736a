// Fault drills on the real test cluster: a node lost (its kubelet killed, its
// pods' processes running on, as on a node cut off), and pods evicted. What the
// holder of a sandbox, a claimer, the pool and the agent each see.
import { execFile, spawn } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { Sandfleet } from "../../provider/client/sandfleet.ts";
import { refillStackPools } from "../../provider/cli/refill.ts";
import { connectEngine } from "../../provider/engines/connect.ts";
import { PoolExhaustedError } from "../../provider/errors.ts";
import { Agent } from "../../provider/runtime/agent/agent.ts";
import type { AgentEvent } from "../../provider/runtime/observability/agent-event.ts";
import { poolReconcilers } from "../../provider/runtime/agent/pool-agent.ts";
import type { SandboxEvent } from "../../provider/runtime/observability/events.ts";
import { listMembers } from "../../provider/runtime/pools/pool.ts";
import { cleanupBackend } from "../support/backends.ts";
import { cliPath, sandfleet as runCli } from "../support/cli.ts";
import { TEST_CLUSTER } from "../support/cluster.ts";
import { uniqueApp } from "../support/engine.ts";
import { kubectl } from "../support/kubectl.ts";
import { until } from "../support/until.ts";

const run = promisify(execFile);
const clusterScript = new URL("../../scripts/cluster", import.meta.url).pathname;
const engine = connectEngine({ kubernetes: TEST_CLUSTER });
const sandfleet = new Sandfleet({ kubernetes: TEST_CLUSTER });
const cliEnv = {
  KUBECONFIG: TEST_CLUSTER.kubeconfig ?? "",
  SANDFLEET_KUBERNETES: "/default",
  SANDFLEET_REGISTRY: TEST_CLUSTER.registry ?? "",
};

interface PodJson {
  spec: { nodeName?: string };
  status: { conditions?: { type: string; status: string }[] };
}
interface NodeJson {
  status: { conditions: { type: string; status: string }[] };
  spec: { taints?: { key: string }[] };
}

const nodeOf = async (podId: string) =>
  (JSON.parse(await kubectl(["get", "pod", podId, "-o", "json"])) as PodJson).spec.nodeName ?? "";
const nodeJson = async (node: string) => JSON.parse(await kubectl(["get", "node", node, "-o", "json"])) as NodeJson;
const nodeReady = async (node: string) => {
  const json = await nodeJson(node);
  const ready = json.status.conditions.find((c) => c.type === "Ready")?.status === "True";
  return ready && !(json.spec.taints ?? []).some((t) => t.key.startsWith("node.kubernetes.io/"));
};
/** The test cluster's node index from its name (sandfleet-node-N). */
const nodeIndex = (node: string) => /^sandfleet-node-(\d+)$/.exec(node)?.[1] ?? "";
const cluster = (verb: string, node: string) => run("bash", [clusterScript, verb, nodeIndex(node)]);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** What a CLI verb that streams (events) prints, once it has printed a line matching `line`; then it is stopped. */
async function cliOutputUntil(args: string[], line: RegExp): Promise<string> {
  const child = spawn(process.execPath, [cliPath, ...args], { env: { ...process.env, ...cliEnv } });
  let stdout = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  try {
    await until(`sandfleet ${args.join(" ")} printing ${String(line)}`, async () => line.test(stdout), 30_000);
    return stdout;
  } finally {
    child.kill();
  }
}

describe("a node lost under a warm pool", () => {
  const app = uniqueApp("k8s-lost");
  const upApp = uniqueApp("k8s-lost-up");
  let lostNode: string | undefined;
  afterAll(async () => {
    // The node comes back for the tests after this one: its kubelet started, the node Ready and untainted.
    if (lostNode) {
      const node = lostNode;
      await cluster("start-kubelet", node).catch(() => undefined);
      await until(`node ${node} Ready again`, () => nodeReady(node), 120_000);
    }
    await cleanupBackend(engine, app);
    await cleanupBackend(engine, upApp);
  }, 180_000);

  it("ends the claimed sandbox there with node-lost, never hands out a member there, and refills on the other node within a minute", async () => {
    const { poolProvider } = await import("../../provider/resources/pool-provider.ts");
    const checked = await poolProvider.check(
      {},
      {
        app,
        name: "py",
        replicas: 4,
        template: { image: "sandfleet/busybox", memoryMiB: 32 },
        kubernetes: TEST_CLUSTER,
      },
    );
    await poolProvider.create(checked.inputs as Record<string, unknown>);
    // A second pool, of an app no agent watches: `sandfleet up` refills it, and says what it replaced.
    const upChecked = await poolProvider.check(
      {},
      {
        app: upApp,
        name: "py",
        replicas: 2,
        template: { image: "sandfleet/busybox", memoryMiB: 32 },
        kubernetes: TEST_CLUSTER,
      },
    );
    const upPool = await poolProvider.create(upChecked.inputs as Record<string, unknown>);
    const upDrift = async () =>
      (
        await poolProvider.diff(
          upPool.id,
          upPool.outs as Record<string, unknown>,
          upChecked.inputs as Record<string, unknown>,
        )
      ).changes;
    const held = await sandfleet.sandboxes.claim(app, "py");
    const victim = await nodeOf(held.id);
    lostNode = victim;

    const sandboxEvents: SandboxEvent[] = [];
    const agentEvents: AgentEvent[] = [];
    const metrics = await sandfleet.agentMetrics(app);
    const agent = new Agent({
      docker: engine,
      reconcilers: poolReconcilers(app),
      app,
      intervalMs: 500,
      metrics,
      observers: [(event) => sandboxEvents.push(event)],
      onEvent: (event) => agentEvents.push(event),
    });
    const stop = new AbortController();
    const agentRun = agent.run(stop.signal);
    try {
      const pool = await sandfleet.pools.fromName(app, "py");
      await until("the pool refilled after the claim", async () => (await pool.status()).ready === 4);
      const warmThere = async (inApp = app) =>
        (
          await Promise.all(
            (await listMembers(engine, inApp, "py")).filter((m) => m.state === "warm").map((m) => nodeOf(m.id)),
          )
        ).filter((n) => n === victim).length;
      // The pools spread over both nodes: warm members wait on the node about to be lost.
      expect(await warmThere()).toBeGreaterThan(0);
      const upOnVictim = await warmThere(upApp);
      expect(upOnVictim).toBeGreaterThan(0);

      const killedMs = Date.now();
      await cluster("kill-kubelet", victim);
      const ended = held.wait();

      // Kubernetes marks the node after its grace period (12 s on this cluster); its pods with it.
      await until(`the cluster marks node ${victim} not ready`, async () => !(await nodeReady(victim)), 60_000);
      const markedMs = Date.now();
      expect(await ended).toBe(137);
      const endedMs = Date.now();
      const state = await held.state();
      expect(state).toMatchObject({ running: false, exitCode: 137, endReason: "node-lost" });
      expect(state.endDetail).toContain(`pod ${held.id} on node ${victim}`);

      // The other app's pool has no agent: its members on the lost node are still listed, and
      // neither counted nor handed out; a claim gets those on the other node, then none.
      const upPoolHandle = await sandfleet.pools.fromName(upApp, "py");
      await until(
        "the cluster's mark on the other pool's pods there",
        async () => (await listMembers(engine, upApp, "py")).filter((m) => m.trouble?.ended).length === upOnVictim,
      );
      expect(await warmThere(upApp)).toBe(upOnVictim);
      expect((await upPoolHandle.status()).ready).toBe(2 - upOnVictim);
      for (let i = 0; i < 2 - upOnVictim; i++) {
        expect(await nodeOf((await sandfleet.sandboxes.claim(upApp, "py")).id)).not.toBe(victim);
      }
      await expect(sandfleet.sandboxes.claim(upApp, "py")).rejects.toThrow(PoolExhaustedError);

      // From now on no claim returns a member there, whatever the pool still lists.
      const claimed = [];
      for (let i = 0; i < 4; i++) {
        const sandbox = await sandfleet.sandboxes.claim(app, "py", { waitMs: 60_000 });
        claimed.push(sandbox);
        expect(await nodeOf(sandbox.id)).not.toBe(victim);
        expect((await sandbox.run(["echo", "alive"])).stdout).toBe("alive\n");
      }
      const claimsDoneMs = Date.now();
      // ...and the agent makes the pool whole again, on the node that is left.
      await until(
        "the pool refilled on the other node",
        async () => (await pool.status()).ready === 4 && (await warmThere()) === 0,
        60_000,
      );
      const refilledMs = Date.now();
      expect(refilledMs - killedMs).toBeLessThan(60_000);
      console.log(
        `node loss drill: node marked ${seconds(markedMs - killedMs)}, sandbox ended ${seconds(endedMs - killedMs)}, ` +
          `4 claims from the other node ${seconds(claimsDoneMs - killedMs)}, pool of 4 refilled ${seconds(refilledMs - killedMs)} after the kubelet's kill`,
      );

      // `pulumi up` sees the lost members as drift to repair, not a smaller readyCount; `sandfleet up`
      // (after pulumi) refills the other app's pool, and says what it replaced and why.
      expect(await upDrift()).toBe(true);
      const said: string[] = [];
      await refillStackPools(
        [{ app: upApp, name: "py", kubernetes: { ...TEST_CLUSTER } as Record<string, string> }],
        (l) => said.push(l),
      );
      expect(said).toContainEqual(
        expect.stringMatching(
          new RegExp(`^pool ${upApp}/py replaced a member: node-lost: pod sf-\\w+ on node ${victim}: the node is lost`),
        ),
      );
      expect(said).toContainEqual(expect.stringMatching(new RegExp(`^refilled pool ${upApp}/py: \\+\\d+ -\\d+$`)));
      expect((await (await sandfleet.pools.fromName(upApp, "py")).status()).ready).toBe(2);
      expect(await warmThere(upApp)).toBe(0);
      expect(await upDrift()).toBe(false);

      // The agent said what it replaced, naming the pod, the node and why; the end is an event and a metric.
      const replaced = agentEvents.filter((e) => e.action === "replaced");
      expect(replaced.length).toBeGreaterThan(0);
      expect(replaced.every((e) => /^node-lost: pod sf-\w+ on node /.test(e.detail ?? ""))).toBe(true);
      expect(agentEvents.filter((e) => e.action === "replaced").every((e) => e.detail?.includes(victim))).toBe(true);
      await until("the end told as an event", async () =>
        sandboxEvents.some((e) => e.kind === "ended" && e.id === held.id),
      );
      const heldEndDetail = () => sandboxEvents.find((e) => e.kind === "ended" && e.id === held.id)?.detail;
      // The agent's own log says it too, naming the pod and its node.
      expect(agentEvents).toContainEqual({
        action: "ended",
        sandbox: `${app}/${held.name}`,
        reason: "node-lost",
        detail: heldEndDetail(),
      });
      const heldEnds = sandboxEvents.filter((e) => e.kind === "ended" && e.id === held.id);
      expect(heldEnds.map((e) => [e.reason, e.exitCode])).toEqual([["node-lost", 137]]);
      expect(heldEnds[0]?.detail).toContain(`pod ${held.id} on node ${victim}`);
      // Every sandbox there ended so, the warm members with the claimed one; the metric counts each once.
      const lostEnds = sandboxEvents.filter((e) => e.kind === "ended" && e.reason === "node-lost");
      expect(lostEnds.every((e) => e.detail?.includes(`on node ${victim}`))).toBe(true);
      expect(await metrics.registry.metrics()).toMatch(
        new RegExp(
          `sandfleet_sandboxes_ended_total\\{app="${app}",reason="node-lost"\\} ${String(lostEnds.length)}\\n`,
        ),
      );

      // An exec there says which node does not answer, and exits 4 (the engine unreachable), never "[object Object]".
      const exec = await runCli(["exec", held.id, "--", "true"], { env: cliEnv });
      expect(exec.stderr).not.toContain("[object Object]");
      expect(exec.stderr).toContain(`node ${victim} does not answer`);
      expect(exec.code, exec.stderr).toBe(4);
      const line = new RegExp(
        `ended\\s+${app}/\\S+ pool py node-lost \\(exit code 137\\): pod ${held.id} on node ${victim}`,
      );
      expect(await cliOutputUntil(["events", "--app", app, "--since", "10m"], line)).toMatch(line);
      for (const sandbox of claimed) await sandbox.remove();
    } finally {
      stop.abort();
      await agentRun;
    }
  }, 240_000);
});

describe("an evicted sandbox", () => {
  const app = uniqueApp("k8s-evict");
  afterAll(() => cleanupBackend(engine, app));

  it("ends with evicted: disk when it writes past its disk bound, and says so in wait, events and metrics", async () => {
    const sandboxEvents: SandboxEvent[] = [];
    const metrics = await sandfleet.agentMetrics(app);
    const agent = new Agent({
      docker: engine,
      reconcilers: poolReconcilers(app),
      app,
      intervalMs: 500,
      metrics,
      observers: [(event) => sandboxEvents.push(event)],
    });
    const stop = new AbortController();
    const agentRun = agent.run(stop.signal);
    try {
      await using sandbox = await sandfleet.sandboxes.create({ app, image: "sandfleet/busybox", diskMiB: 16 });
      await sandbox.run(["dd", "if=/dev/zero", "of=/tmp/fill", "bs=1M", "count=40"]);
      expect([137, 143]).toContain(await sandbox.wait());
      const state = await sandbox.state();
      expect(state.endReason, state.endDetail).toBe("evicted: disk");
      expect(state.endDetail).toMatch(/ephemeral local storage usage exceeds/);
      await until("the eviction told as an event", async () =>
        sandboxEvents.some((e) => e.kind === "ended" && e.id === sandbox.id),
      ).catch(async (error: unknown) => {
        const pod = await kubectl(["get", "pod", sandbox.id, "-o", "json"]).catch(() => "(gone)");
        throw new Error(`${String(error)}; events told: ${JSON.stringify(sandboxEvents)}; the pod: ${pod}`);
      });
      expect(sandboxEvents.find((e) => e.kind === "ended" && e.id === sandbox.id)).toMatchObject({
        reason: "evicted: disk",
      });
      expect(await metrics.registry.metrics()).toMatch(
        new RegExp(`sandfleet_sandboxes_ended_total\\{app="${app}",reason="evicted: disk"\\} 1\\b`),
      );
      const listed = await sandfleet.sandboxes.list({ app, includeEnded: true });
      expect(listed.find((s) => s.id === sandbox.id)?.endReason).toBe("evicted: disk");
    } finally {
      stop.abort();
      await agentRun;
    }
  }, 120_000);

  it("ends with evicted: api when the Eviction API evicts it (a drain), though the pod is gone a moment after", async () => {
    const sandbox = await sandfleet.sandboxes.create({ app, image: "sandfleet/busybox" });
    const ended = sandbox.wait();
    const namespace = TEST_CLUSTER.namespace ?? "default";
    const eviction = join(tmpdir(), `eviction-${sandbox.id}.json`);
    writeFileSync(
      eviction,
      JSON.stringify({ apiVersion: "policy/v1", kind: "Eviction", metadata: { name: sandbox.id, namespace } }),
    );
    await kubectl(["create", "--raw", `/api/v1/namespaces/${namespace}/pods/${sandbox.id}/eviction`, "-f", eviction]);
    rmSync(eviction);
    // The holder's wait ends with the sandbox's exit code, not a "no such sandbox" for the pod that went.
    expect(await ended).toBeGreaterThan(0);
    await until("the evicted pod gone", async () => (await engine.containers.inspect(sandbox.id)) === undefined);
  }, 60_000);
});
