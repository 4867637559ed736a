import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { TEST_CLUSTER } from "./cluster.ts";

const run = promisify(execFile);
export const KUBECTL = "/var/cache/sandfleet/kubernetes-v1.37.2/bin/kubectl";

/** kubectl against the test cluster's namespace: the tests read what the API server holds with the real client. */
export async function kubectl(args: string[]): Promise<string> {
  const { stdout } = await run(
    KUBECTL,
    ["--kubeconfig", TEST_CLUSTER.kubeconfig ?? "", "-n", TEST_CLUSTER.namespace ?? "default", ...args],
    {
      maxBuffer: 1 << 24,
    },
  );
  return stdout;
}
