// Sandboxes on Kubernetes, against kubectl on the same cluster: a fresh test
// cluster (scripts/cluster) is started for these and stopped after them, or,
// with SANDFLEET_REUSE_CLUSTER set, the one already running is used and kept.
import { Sandfleet } from "../provider/client/sandfleet.ts";
import { connectEngine } from "../provider/engines/connect.ts";
import { kubeApis } from "../provider/engines/kubernetes/api.ts";
import { selectorFor } from "../provider/engines/kubernetes/labels.ts";
import { scopeLabels } from "../provider/runtime/engine-state/labels.ts";
import { poolProvider } from "../provider/resources/pool-provider.ts";
import { cleanupBackend } from "../test/support/backends.ts";
import { TEST_CLUSTER } from "../test/support/cluster.ts";
import { KUBECTL, kubectl } from "../test/support/kubectl.ts";
import { medianMs, run, type Figure } from "./measure.ts";
import { benchApp } from "./scenarios.ts";

const cluster = new URL("../scripts/cluster", import.meta.url).pathname;

/** How many claimers claim at once in the claims-per-second figure. */
const CLAIMERS = 50;

let started: Promise<void> | undefined;

/**
 * The test cluster, started once for every Kubernetes scenario of the run: a
 * restart would give it a new certificate authority, which this process's
 * clients (one per target, as in any long-lived process) read once.
 */
async function onCluster<T>(work: () => Promise<T>): Promise<T> {
  if (!process.env.SANDFLEET_REUSE_CLUSTER) started ??= run("bash", [cluster, "up"]).then(() => undefined);
  await started;
  return work();
}

/** Stops the cluster the scenarios started, if they started one. */
export async function stopCluster(): Promise<void> {
  if (started) await run("bash", [cluster, "down"]);
}

/** A cold sandbox against kubectl run (`node bench/run.ts --only kubernetes-cold-sandboxes`). */
export async function kubernetesColdSandboxes(runs: number): Promise<Figure[]> {
  return onCluster(() => coldSandbox(runs));
}

/** Claims from a pool the agent inside the cluster refills (`node bench/run.ts --only kubernetes-agent-claims`). */
export async function kubernetesAgentClaims(): Promise<Figure[]> {
  const { inClusterAgentClaims } = await import("./kubernetes-agent-claims.ts");
  return onCluster(() => inClusterAgentClaims());
}

/** A node lost under a warm pool (`node bench/run.ts --only kubernetes-node-loss`). */
export async function kubernetesNodeLoss(runs: number): Promise<Figure[]> {
  const { nodeLoss } = await import("./kubernetes-node-loss.ts");
  return onCluster(() => nodeLoss(runs));
}

/** The CLI against the cluster, beside kubectl (`node bench/run.ts --only kubernetes-cli`). */
export async function kubernetesCli(runs: number): Promise<Figure[]> {
  return onCluster(() => cliOnCluster(runs));
}

/** Claims from a warm pool (`node bench/run.ts --only kubernetes-claims`). */
export async function kubernetesClaims(runs: number): Promise<Figure[]> {
  return onCluster(() => warmClaims(runs));
}

/** The image as the cluster pulls it, for kubectl's runs: the one sandfleet pushed. */
async function pulledImage(sandfleet: Sandfleet, app: string): Promise<string> {
  const engine = connectEngine({ kubernetes: TEST_CLUSTER });
  const probe = await sandfleet.sandboxes.create({ app, image: "sandfleet/busybox", supervisor: false });
  const pulled = await kubectl(["get", "pod", probe.id, "-o", "jsonpath={.spec.containers[0].image}"]);
  await engine.containers.remove(probe.id);
  return pulled;
}

async function coldSandbox(runs: number): Promise<Figure[]> {
  const engine = connectEngine({ kubernetes: TEST_CLUSTER });
  const sandfleet = new Sandfleet({ kubernetes: TEST_CLUSTER });
  const app = benchApp();
  try {
    const pulled = await pulledImage(sandfleet, app);
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
    ];
  } finally {
    await cleanupBackend(engine, app);
  }
}

const cli = new URL("../dist/bin/sandfleet.cjs", import.meta.url).pathname;

/**
 * `sandfleet exec` and `sandfleet ls` from the built CLI, each a whole
 * process as a user's shell starts it, against kubectl's same call: an exec
 * in the same pod, and a listing by the same label selector.
 */
async function cliOnCluster(runs: number): Promise<Figure[]> {
  const engine = connectEngine({ kubernetes: TEST_CLUSTER });
  const sandfleet = new Sandfleet({ kubernetes: TEST_CLUSTER });
  const app = benchApp();
  try {
    const sandbox = await sandfleet.sandboxes.create({ app, image: "sandfleet/busybox" });
    await sandbox.run(["true"]);
    const env = {
      ...process.env,
      KUBECONFIG: TEST_CLUSTER.kubeconfig ?? "",
      SANDFLEET_KUBERNETES: `/${TEST_CLUSTER.namespace ?? ""}`,
      SANDFLEET_REGISTRY: TEST_CLUSTER.registry ?? "",
    };
    const sandfleetCli = async (...args: string[]) => {
      await run(process.execPath, [cli, ...args], { env });
    };
    const kubectlCli = async (...args: string[]) => {
      await run(KUBECTL, ["-n", TEST_CLUSTER.namespace ?? "default", ...args], { env });
    };
    const exec = await medianMs(runs, 3, () => sandfleetCli("exec", sandbox.id, "--", "true"));
    const kubectlExec = await medianMs(runs, 3, () => kubectlCli("exec", sandbox.id, "--", "true"));
    const ls = await medianMs(runs, 3, () => sandfleetCli("ls", "--app", app));
    const { selector } = selectorFor(scopeLabels("sandbox", app));
    const kubectlGet = await medianMs(runs, 3, () => kubectlCli("get", "pods", "-l", selector));
    return [
      {
        name: "Kubernetes: `sandfleet exec SANDBOX -- true`",
        value: exec,
        unit: "ms",
        baselineName: "`kubectl exec POD -- true`",
        baseline: kubectlExec,
        target: 1.2,
        note: "the built CLI, a whole process: the pod read, then the supervisor's channel (an exec) opened",
      },
      {
        name: "Kubernetes: `sandfleet ls --app APP`",
        value: ls,
        unit: "ms",
        baselineName: "`kubectl get pods -l <the app's selector>`",
        baseline: kubectlGet,
        target: 1.5,
        note: "the built CLI, a whole process: the app's pods and its tag records, listed at once",
      },
    ];
  } finally {
    await cleanupBackend(engine, app);
  }
}

async function warmClaims(runs: number): Promise<Figure[]> {
  const engine = connectEngine({ kubernetes: TEST_CLUSTER });
  const sandfleet = new Sandfleet({ kubernetes: TEST_CLUSTER });
  const app = benchApp();
  try {
    const inputs = (
      await poolProvider.check(
        {},
        {
          app,
          name: "warm",
          replicas: runs + 2 + CLAIMERS,
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
    // A client of its own, as a fresh process would have: its first claim lists the pool.
    const claimers = new Sandfleet({ kubernetes: TEST_CLUSTER });
    const started = performance.now();
    const claimed = await Promise.all(Array.from({ length: CLAIMERS }, () => claimers.sandboxes.claim(app, "warm")));
    const perSecond = CLAIMERS / ((performance.now() - started) / 1000);
    // The API server's floor, in the same minute: as many pod writes at once, each alone, no claim around it.
    const { core, namespace } = await kubeApis(TEST_CLUSTER)();
    const writesStarted = performance.now();
    await Promise.all(
      claimed.map((sandbox, i) =>
        core.patchNamespacedPod(
          { name: sandbox.id, namespace, body: { metadata: { annotations: { "sandfleet.io/bench": String(i) } } } },
          "merge",
        ),
      ),
    );
    const writesPerSecond = CLAIMERS / ((performance.now() - writesStarted) / 1000);
    return [
      {
        name: "Kubernetes: warm claim, first exec",
        value: warm,
        unit: "ms",
        baselineName: "one kubectl exec",
        baseline: execOnce,
        target: 1.0,
        note: "the claim is one JSON patch that tests the member's name; the exec opens the supervisor's channel",
      },
      {
        name: `Kubernetes: claims per second, ${String(CLAIMERS)} claimers at once`,
        value: perSecond,
        unit: "claims/s",
        baselineName: `${String(CLAIMERS)} pod patches at once`,
        baseline: writesPerSecond,
        note: "one client; each claim is one JSON patch, then its claim record and its supervisor channel (an exec) behind it",
      },
    ];
  } finally {
    await cleanupBackend(engine, app);
  }
}
