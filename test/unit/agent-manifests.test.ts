import { readFileSync } from "node:fs";
import type { V1Deployment, V1NetworkPolicy, V1Role, V1RoleBinding } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { agentManifests, type KubeObject } from "../../provider/engines/kubernetes/agent-manifests.ts";
import { OWNED_LABEL } from "../../provider/engines/kubernetes/labels.ts";
import { SANDFLEET_ROLE_RULES } from "../../provider/engines/kubernetes/role.ts";

const rbac = new URL("../../examples/kubernetes/rbac.yaml", import.meta.url);
const base = { namespace: "sandboxes", image: "registry.internal:5000/sandfleet/agent:1" };
function find(objects: KubeObject[], kind: string, name?: string): unknown {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (!found) throw new Error(`no ${kind} ${name ?? ""}`);
  return found;
}

describe("sandfleet's role, written once", () => {
  it("examples/kubernetes/rbac.yaml grants exactly the rules of role.ts", () => {
    const documents = parseAllDocuments(readFileSync(rbac, "utf8")).map((d) => d.toJS() as KubeObject);
    const role = documents.find((d) => d.kind === "Role") as { rules: unknown } | undefined;
    expect(role?.rules).toEqual(SANDFLEET_ROLE_RULES);
  });
});

describe("agentManifests", () => {
  it("binds the agent's own service account to sandfleet's rules and its one lease, nothing cluster-wide", () => {
    const objects = agentManifests({ ...base, agentNamespace: "sandfleet-system" });
    expect(objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`)).toEqual([
      "ServiceAccount/sandfleet-system/sandfleet-agent",
      "Role/sandboxes/sandfleet-agent",
      "RoleBinding/sandboxes/sandfleet-agent",
      "Role/sandfleet-system/sandfleet-agent-lease",
      "RoleBinding/sandfleet-system/sandfleet-agent-lease",
      "Deployment/sandfleet-system/sandfleet-agent",
      "Service/sandfleet-system/sandfleet-agent-metrics",
      "NetworkPolicy/sandfleet-system/sandfleet-agent",
    ]);
    expect((find(objects, "Role", "sandfleet-agent") as V1Role).rules).toEqual(SANDFLEET_ROLE_RULES);
    expect((find(objects, "Role", "sandfleet-agent-lease") as V1Role).rules).toEqual([
      {
        apiGroups: ["coordination.k8s.io"],
        resources: ["leases"],
        verbs: ["get", "update"],
        resourceNames: ["sandfleet-agent"],
      },
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
      { apiGroups: [""], resources: ["pods"], verbs: ["get"] },
    ]);
    for (const binding of objects.filter((o) => o.kind === "RoleBinding"))
      expect((binding as unknown as V1RoleBinding).subjects).toEqual([
        { kind: "ServiceAccount", name: "sandfleet-agent", namespace: "sandfleet-system" },
      ]);
    expect(objects.some((o) => o.kind.startsWith("Cluster"))).toBe(false);
  });

  it("runs two replicas as Pod Security restricted asks, with limits and probes on the metrics port", () => {
    const deployment = find(agentManifests(base), "Deployment") as V1Deployment;
    expect(deployment.spec?.replicas).toBe(2);
    const pod = deployment.spec?.template.spec;
    if (!pod) throw new Error("no pod spec");
    expect(pod.serviceAccountName).toBe("sandfleet-agent");
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    expect(pod.securityContext?.runAsUser).toBeGreaterThan(0);
    const [container] = pod.containers;
    if (!container) throw new Error("no container");
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      privileged: false,
      capabilities: { drop: ["ALL"] },
    });
    expect(container.resources?.requests).toHaveProperty("memory");
    expect(container.resources?.limits).toHaveProperty("memory");
    expect(container.livenessProbe?.httpGet).toEqual({ path: "/healthz", port: "metrics" });
    expect(container.readinessProbe?.httpGet).toEqual({ path: "/healthz", port: "metrics" });
    expect(container.args).toEqual(expect.arrayContaining(["--leader-elect", "sandfleet-agent"]));
    // The agent's pods are never taken for sandboxes (nor fall under their default-deny).
    expect(Object.keys(deployment.spec?.template.metadata?.labels ?? {})).not.toContain(OWNED_LABEL);
  });

  it("lets only labelled scrapers in labelled namespaces reach the replicas", () => {
    const policy = find(agentManifests(base), "NetworkPolicy") as V1NetworkPolicy;
    expect(policy.spec?.policyTypes).toEqual(["Ingress"]);
    expect(policy.spec?.ingress).toEqual([
      {
        from: [
          {
            namespaceSelector: { matchLabels: { "sandfleet.io/agent-scraper": "true" } },
            podSelector: { matchLabels: { "sandfleet.io/agent-scraper": "true" } },
          },
        ],
      },
    ]);
  });

  it.each([
    [{ namespace: "Sandboxes" }, /--namespace "Sandboxes" must be a Kubernetes name/],
    [{ agentNamespace: "a b" }, /--agent-namespace "a b" must be a Kubernetes name/],
    [{ image: "x\ny" }, /--image "x\\ny" must be an image reference/],
    [{ image: "" }, /--image "" must be an image reference/],
    [{ registry: "http://r" }, /--registry "http:\/\/r"/],
    [{ apiServer: "10.0.0.1" }, /--api-server "10.0.0.1" must be host:port/],
    [{ apiServer: "10.0.0.1:0" }, /--api-server "10.0.0.1:0" must be host:port/],
    [{ replicas: 0 }, /--replicas 0 must be a whole number from 1 to 10/],
    [{ app: "A" }, /--app "A" must be an app name/],
  ])("refuses %o, saying which option and why", (bad, message) => {
    expect(() => agentManifests({ ...base, ...bad })).toThrow(message);
  });
});
