// The parity suite's Kubernetes cluster: a fresh one per run (scripts/cluster),
// stopped after it. A cluster that cannot start fails the run: the suite never
// passes with one backend missing.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { KubernetesEngineOptions } from "../../provider/engines/connect.ts";

const run = promisify(execFile);
const script = new URL("../../scripts/cluster", import.meta.url).pathname;

/** Where the harness's cluster is: its admin kubeconfig, and its registry on the cluster's bridge. */
export const TEST_CLUSTER: KubernetesEngineOptions = {
  kubeconfig: "/var/lib/sandfleet-cluster/admin.kubeconfig",
  namespace: "default",
  registry: "10.250.0.1:5000",
};

/**
 * Starts the cluster once for every project of the run that needs it (parity, and its fault
 * drills after it), and stops it after the last one: a second `up` would remove the first's.
 */
const shared = globalThis as { sandfleetTestCluster?: { users: number; started: Promise<void> } };

export default async function startCluster(): Promise<() => Promise<void>> {
  // A cluster that somebody else started and keeps (for running one file by hand while
  // another checkout uses it): neither started nor stopped here.
  if (process.env.SANDFLEET_REUSE_CLUSTER) return async () => {};
  shared.sandfleetTestCluster ??= { users: 0, started: clusterUp() };
  const entry = shared.sandfleetTestCluster;
  entry.users++;
  await entry.started;
  return async () => {
    entry.users--;
    if (entry.users > 0) return;
    delete shared.sandfleetTestCluster;
    if (process.env.SANDFLEET_KEEP_CLUSTER) return;
    await run("bash", [script, "down"]);
  };
}

async function clusterUp(): Promise<void> {
  try {
    await run("bash", [script, "up"], { maxBuffer: 1 << 24 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? "";
    throw new Error(`the test cluster did not start (scripts/cluster up): ${stderr.trim() || String(error)}`, {
      cause: error,
    });
  }
}
