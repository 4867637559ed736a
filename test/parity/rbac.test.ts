// The role examples/kubernetes/rbac.yaml grants is all sandfleet needs: a pool
// made, claimed, refilled and removed by a service account that has only it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandfleet } from "../../provider/client/sandfleet.ts";
import { connectEngine, type KubernetesEngineOptions } from "../../provider/engines/connect.ts";
import { poolProvider } from "../../provider/resources/pool-provider.ts";
import { refillPools } from "../../provider/runtime/agent/pool-agent.ts";
import { listMembers } from "../../provider/runtime/pools/pool.ts";
import { createAppNetwork } from "../../provider/runtime/networks/apps.ts";
import { cleanupBackend } from "../support/backends.ts";
import { TEST_CLUSTER } from "../support/cluster.ts";
import { uniqueApp } from "../support/engine.ts";
import { kubectl } from "../support/kubectl.ts";
import { sandfleetRole } from "../support/sandfleet-role.ts";

const NAMESPACE = "sandfleet-rbac";

describe("sandfleet with only the role of examples/kubernetes/rbac.yaml", () => {
  let restricted: KubernetesEngineOptions;
  const app = uniqueApp("rbac");
  beforeAll(async () => {
    restricted = (await sandfleetRole(NAMESPACE)).options;
  });
  afterAll(async () => {
    await cleanupBackend(connectEngine({ kubernetes: { ...TEST_CLUSTER, namespace: NAMESPACE } }), app);
    await kubectl(["delete", "namespace", NAMESPACE, "--wait=false"]);
  });

  it("makes a pool, claims from it, runs a command, refills it and removes it", async () => {
    const engine = connectEngine({ kubernetes: restricted });
    await engine.ping();
    const checked = await poolProvider.check(
      {},
      {
        app,
        name: "py",
        replicas: 2,
        // The namespace enforces Pod Security "restricted": a sandbox there runs as a non-root uid.
        template: { image: "sandfleet/busybox", user: "1000:1000", memoryMiB: 32, env: { KEY: "value" } },
        kubernetes: restricted,
      },
    );
    const created = await poolProvider.create(checked.inputs as Record<string, unknown>);
    const sandbox = await new Sandfleet({ kubernetes: restricted }).sandboxes.claim(app, "py");
    expect((await sandbox.run(["sh", "-c", 'echo "$KEY"'])).stdout).toBe("value\n");
    expect((await sandbox.metrics()).memoryBytes).toBeGreaterThan(0);
    await sandbox.terminate();
    expect(await refillPools(engine, app)).toContainEqual({
      action: "refilled",
      sandbox: `${app}/py`,
      detail: "+1 -0",
    });
    await poolProvider.delete(created.id, created.outs as Record<string, unknown>);
    expect(await listMembers(engine, app, "py")).toEqual([]);
    // The role reaches no other namespace.
    await expect(connectEngine({ kubernetes: { ...restricted, namespace: "default" } }).ping()).rejects.toThrow(
      /forbidden/,
    );
  });

  it("opens a tunnel to a sandbox's port through the API server's port-forward", async () => {
    const sandfleet = new Sandfleet({ kubernetes: restricted });
    await createAppNetwork(connectEngine({ kubernetes: restricted }), app, false);
    const sandbox = await sandfleet.sandboxes.create({
      app,
      image: "sandfleet/busybox",
      user: "1000:1000",
      memoryMiB: 32,
      network: "app",
      ports: [8080],
      command: ["sh", "-c", "mkdir -p /tmp/w && echo tunnelled > /tmp/w/index.html && exec httpd -f -p 8080 -h /tmp/w"],
      readiness: { tcpPort: 8080, intervalMs: 50 },
    });
    await sandbox.waitUntilReady();
    const [tunnel] = await sandbox.tunnels();
    expect(await (await fetch(`${tunnel?.url ?? ""}/`)).text()).toBe("tunnelled\n");
    await sandbox.terminate();
  });
});
