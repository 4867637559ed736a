// Sandboxes on Kubernetes, against kubectl on the same cluster: a fresh test
// cluster (scripts/cluster) is started for these and stopped after them.
import { Sandfleet } from "../provider/client/sandfleet.ts";
import { connectEngine } from "../provider/engines/connect.ts";
import { poolProvider } from "../provider/resources/pool-provider.ts";
import { cleanupBackend } from "../test/support/backends.ts";
import { TEST_CLUSTER } from "../test/support/cluster.ts";
import { kubectl } from "../test/support/kubectl.ts";
import { medianMs, run, type Figure } from "./measure.ts";
import { benchApp } from "./scenarios.ts";

const cluster = new URL("../scripts/cluster", import.meta.url).pathname;

export async function kubernetesSandboxes(runs: number): Promise<Figure[]> {
  await run("bash", [cluster, "up"]);
  try {
    return await measure(runs);
  } finally {
    await run("bash", [cluster, "down"]);
  }
}

async function measure(runs: number): Promise<Figure[]> {
  const engine = connectEngine({ kubernetes: TEST_CLUSTER });
  const sandfleet = new Sandfleet({ kubernetes: TEST_CLUSTER });
  const app = benchApp();
  // The image as the cluster pulls it, for kubectl's runs: the one sandfleet pushed.
  const probe = await sandfleet.sandboxes.create({ app, image: "sandfleet/busybox", supervisor: false });
  const pulled = await kubectl(["get", "pod", probe.id, "-o", "jsonpath={.spec.containers[0].image}"]);
  await engine.containers.remove(probe.id);

  const cold = await medianMs(runs, 2, async () => {
    const sandbox = await sandfleet.sandboxes.create({ app, image: "sandfleet/busybox" });
    await sandbox.run(["true"]);
    await engine.containers.remove(sandbox.id);
  });
  let n = 0;
  const coldKubectl = await medianMs(runs, 2, async () => {
    const name = `bench-${String(n++)}`;
    await kubectl(["run", name, `--image=${pulled}`, "--restart=Never", "--command", "--", "sleep", "3600"]);
    await kubectl(["wait", "--for=condition=Ready", `pod/${name}`, "--timeout=120s"]);
    await kubectl(["exec", name, "--", "true"]);
    await kubectl(["delete", "pod", name, "--grace-period=0", "--force", "--wait=false"]);
  });

  const claims = 50;
  const inputs = (
    await poolProvider.check(
      {},
      {
        app,
        name: "warm",
        replicas: runs + 2 + claims,
        template: { image: "sandfleet/busybox" },
        kubernetes: TEST_CLUSTER,
      },
    )
  ).inputs as Record<string, unknown>;
  await poolProvider.create(inputs);
  const warm = await medianMs(runs, 2, async () => {
    const sandbox = await sandfleet.sandboxes.claim(app, "warm");
    await sandbox.run(["true"]);
  });
  const [one] = await sandfleet.sandboxes.list({ app });
  const execOnce = await medianMs(runs, 2, async () => {
    await kubectl(["exec", one?.id ?? "", "--", "true"]);
  });
  const started = performance.now();
  await Promise.all(Array.from({ length: claims }, () => sandfleet.sandboxes.claim(app, "warm")));
  const perSecond = claims / ((performance.now() - started) / 1000);
  await cleanupBackend(engine, app);
  return [
    {
      name: "Kubernetes: cold sandbox, create to first exec",
      value: cold,
      unit: "ms",
      baselineName: "kubectl run, wait for Ready, kubectl exec",
      baseline: coldKubectl,
      target: 1.3,
      note: "two nodes; the image and the supervisor layer already in the registry",
    },
    {
      name: "Kubernetes: warm claim, first exec",
      value: warm,
      unit: "ms",
      baselineName: "one kubectl exec",
      baseline: execOnce,
      target: 1.5,
      note: "the claim is a rename conditioned on the pod's resourceVersion; the exec opens the supervisor's channel",
    },
    {
      name: `Kubernetes: claims per second, ${String(claims)} claimers at once`,
      value: perSecond,
      unit: "claims/s",
    },
  ];
}
