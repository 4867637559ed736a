// An app's end on Kubernetes leaves nothing it made: its pods, records and
// policies, and the local image tags its pods were pushed from. The
// namespace's default-deny policy stays: removing it would race another
// app's pod. In a namespace of its own.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandfleet } from "../../provider/client/sandfleet.ts";
import { connectEngine, type KubernetesEngineOptions } from "../../provider/engines/connect.ts";
import { connectKubernetes } from "../../provider/engines/kubernetes/client.ts";
import { appSuffix } from "../../provider/engines/kubernetes/images.ts";
import { DEFAULT_DENY_POLICY } from "../../provider/engines/kubernetes/networks.ts";
import { appProvider } from "../../provider/resources/app-provider.ts";
import { backendLeftovers, cleanupBackend } from "../support/backends.ts";
import { TEST_CLUSTER } from "../support/cluster.ts";
import { uniqueApp } from "../support/engine.ts";
import { kubectl } from "../support/kubectl.ts";

const namespace = uniqueApp("sandfleet-release");
const options: KubernetesEngineOptions = { ...TEST_CLUSTER, namespace };
const repo = `${TEST_CLUSTER.registry ?? ""}/sandfleet/images`;

describe("an app's end on Kubernetes", () => {
  const apps = [uniqueApp("rel-a"), uniqueApp("rel-b"), uniqueApp("rel-c")];
  const engine = connectEngine({ kubernetes: options });
  // A client of its own (as another process's): it remembers having made the policy, which the app's end removes.
  const maker = new Sandfleet({ docker: connectKubernetes(options) });
  const policyThere = async () =>
    (await kubectl(["-n", namespace, "get", "networkpolicy", "-o", "name"])).includes(DEFAULT_DENY_POLICY);
  const tagsOf = async (app: string) =>
    (await engine.images.list({}, { reference: repo }))
      .flatMap((i) => i.tags)
      .filter((t) => t.endsWith(appSuffix(app)));
  const startApp = async (app: string) => {
    const checked = await appProvider.check({}, { name: app, kubernetes: options });
    expect(checked.failures).toEqual([]);
    const made = await appProvider.create(checked.inputs as Record<string, unknown>);
    const sandbox = await maker.sandboxes.create({
      app,
      image: "sandfleet/busybox",
      memoryMiB: 32,
    });
    return { ...made, sandbox };
  };

  beforeAll(async () => {
    await kubectl(["create", "namespace", namespace]);
  });
  afterAll(async () => {
    for (const app of apps) await cleanupBackend(engine, app);
    await kubectl(["delete", "namespace", namespace, "--wait=false"]);
  });

  it("removes its image tags at once, and leaves the namespace's default-deny policy to every app's sandboxes", async () => {
    const [a = "", b = ""] = apps;
    const first = await startApp(a);
    const second = await startApp(b);
    expect(await policyThere()).toBe(true);
    expect(await tagsOf(a)).not.toEqual([]);
    expect(await tagsOf(b)).not.toEqual([]);

    await appProvider.delete(first.id, first.outs as Record<string, unknown>);
    expect(await tagsOf(a)).toEqual([]);
    expect(await backendLeftovers(engine, a)).toEqual([]);
    // b's sandbox still needs it.
    expect(await policyThere()).toBe(true);
    expect((await second.sandbox.run(["echo", "still here"])).stdout).toBe("still here\n");

    await appProvider.delete(second.id, second.outs as Record<string, unknown>);
    expect(await tagsOf(b)).toEqual([]);
    expect(await backendLeftovers(engine, b)).toEqual([]);
    expect(await policyThere()).toBe(true);
  });

  it("a client that made the policy before gives a pod made after its removal the policy again", async () => {
    // This engine client made the policy in the test before (it remembers having made it); an operator removes it.
    await kubectl(["-n", namespace, "delete", "networkpolicy", DEFAULT_DENY_POLICY]);
    expect(await policyThere()).toBe(false);
    const c = apps[2] ?? "";
    await using sandbox = await maker.sandboxes.create({ app: c, image: "sandfleet/busybox", memoryMiB: 32 });
    expect((await sandbox.state()).running).toBe(true);
    expect(await policyThere()).toBe(true);
  });
});
