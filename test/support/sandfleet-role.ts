// A namespace set up as examples/kubernetes/rbac.yaml says (the namespace with
// its Pod Security label, the role, its service account), and a kubeconfig
// that is that service account and nothing more.
import { readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KubernetesEngineOptions } from "../../provider/engines/connect.ts";
import { TEST_CLUSTER } from "./cluster.ts";
import { kubectl } from "./kubectl.ts";

const manifest = new URL("../../examples/kubernetes/rbac.yaml", import.meta.url);

export interface SandfleetRole {
  /** The engine options of the service account: its kubeconfig, the cluster's registry. */
  options: KubernetesEngineOptions & { kubeconfig: string };
  /** `system:serviceaccount:NAMESPACE:sandfleet`, for `kubectl auth can-i --as`. */
  user: string;
}

/** Makes `namespace`, applies the manifest to it and returns the service account's identity. */
export async function sandfleetRole(namespace: string): Promise<SandfleetRole> {
  const file = join(tmpdir(), `sandfleet-role-${namespace}.yaml`);
  writeFileSync(
    file,
    readFileSync(manifest, "utf8")
      .replaceAll("namespace: sandboxes", `namespace: ${namespace}`)
      .replace(/^( {2}name: )sandboxes$/m, `$1${namespace}`),
  );
  // Made first, bare: the manifest's own Namespace (with its Pod Security label) then applies to it.
  await kubectl(["create", "namespace", namespace]);
  await kubectl(["-n", namespace, "apply", "-f", file]);
  const token = (await kubectl(["-n", namespace, "create", "token", "sandfleet"])).trim();
  const admin = readFileSync(TEST_CLUSTER.kubeconfig ?? "", "utf8");
  const server = /server: (\S+)/.exec(admin)?.[1] ?? "";
  const ca = /certificate-authority: (\S+)/.exec(admin)?.[1] ?? "";
  const kubeconfig = join(tmpdir(), `sandfleet-role-${namespace}.kubeconfig`);
  writeFileSync(
    kubeconfig,
    [
      "apiVersion: v1",
      "kind: Config",
      `clusters: [{ name: c, cluster: { server: "${server}", certificate-authority: "${ca}" } }]`,
      `users: [{ name: sandfleet, user: { token: "${token}" } }]`,
      `contexts: [{ name: sandfleet, context: { cluster: c, user: sandfleet, namespace: ${namespace} } }]`,
      "current-context: sandfleet",
    ].join("\n"),
  );
  return {
    options: { kubeconfig, registry: TEST_CLUSTER.registry ?? "" },
    user: `system:serviceaccount:${namespace}:sandfleet`,
  };
}
