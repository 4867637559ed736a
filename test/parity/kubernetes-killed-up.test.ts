// A `pulumi up` of a stack on the test cluster, killed with SIGKILL while it
// makes pods (the CLI, its language host and its providers at once, as a crash
// would): the next `sandfleet up` finds the lock the killed run left, and
// converges to exactly what the file declares, with nothing orphaned.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectEngine } from "../../provider/engines/connect.ts";
import { backendLeftovers, cleanupBackend } from "../support/backends.ts";
import { appCensus } from "../support/fault-drill.ts";
import { sandfleet } from "../support/cli.ts";
import { TEST_CLUSTER } from "../support/cluster.ts";
import { PulumiStack } from "../support/pulumi.ts";
import { until } from "../support/until.ts";

const root = new URL("../../", import.meta.url).pathname;
const engine = connectEngine({ kubernetes: TEST_CLUSTER });

// Each sandbox takes about two seconds to pass its probe, so that an `up` can be cut off mid-way.
const SLOW_SANDBOX = `
    image: sandfleet/busybox
    memory: 32Mi
    command: [sh, -c, "sleep 2; touch /tmp/ready; exec sleep 86400"]
    readiness: { exec: [test, -f, /tmp/ready], interval: 100ms, timeout: 1m }`;

const specFor = (app: string) => `app: ${app}
kubernetes:
  kubeconfig: ${TEST_CLUSTER.kubeconfig ?? ""}
  namespace: ${TEST_CLUSTER.namespace ?? "default"}
  registry: "${TEST_CLUSTER.registry ?? ""}"
sandboxes:
  sa:${SLOW_SANDBOX}
  sb:${SLOW_SANDBOX}
pools:
  workers:
    replicas: 6
    template:${SLOW_SANDBOX.replaceAll("\n    ", "\n      ")}
`;

describe("a `pulumi up` SIGKILLed while it makes pods on Kubernetes", () => {
  const id = randomBytes(4).toString("hex");
  const app = `k8s-killed-${id}`;
  const dir = mkdtempSync(join(tmpdir(), "sandfleet-k8s-killed-"));
  const specFile = join(dir, "sandfleet.yaml");
  const stack = new PulumiStack(root, `k8s-killed-${id}`);

  beforeAll(async () => {
    writeFileSync(specFile, specFor(app));
    await stack.init({ "sandfleet:file": specFile });
  });
  afterAll(async () => {
    await stack.dispose();
    await cleanupBackend(engine, app);
    rmSync(dir, { recursive: true, force: true });
  });

  /** What the app has on the cluster: its pods by role. */
  const census = () => appCensus(engine, app);

  it("leaves nothing stuck: the next `sandfleet up` removes the stale lock and converges to exactly 8 pods", async () => {
    const up = stack.start(["up", "--yes", "--skip-preview"]);
    await until("pods on the cluster", async () => (await census()).total >= 3, 120_000);
    up.killTree();
    await up.exited;
    expect((await census()).running).toBeLessThan(8);

    const again = await sandfleet(["up", "--stack", stack.stack, "-C", root], {
      env: { PULUMI_BACKEND_URL: `file://${stack.backendDir}`, PULUMI_CONFIG_PASSPHRASE: "" },
    });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stderr).toContain("removed a stale lock");
    expect(await census()).toEqual({ total: 8, running: 8, named: ["sa", "sb"], warm: 6, pending: 0 });
    const preview = await stack.run(["preview", "--diff", "--expect-no-changes"], { allowFailure: true });
    expect(preview.code, preview.stdout + preview.stderr).toBe(0);

    // And a destroy then leaves nothing of the app in the namespace.
    await stack.run(["destroy", "--yes", "--skip-preview"]);
    expect(await backendLeftovers(engine, app)).toEqual([]);
  });
});
