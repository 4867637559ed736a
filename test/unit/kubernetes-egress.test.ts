import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { EGRESS_LABEL, egressPolicyFor, egressPolicyName } from "../../provider/engines/kubernetes/egress-policy.ts";
import { KUBERNETES_CAPABILITIES } from "../../provider/engines/kubernetes/capabilities.ts";
import { KUBERNETES_LIMITS } from "../../provider/engines/kubernetes/limits.ts";
import { NETWORK_LABEL, podFor } from "../../provider/engines/kubernetes/pod-spec.ts";
import type { ContainerSpec, EgressClient, EngineInfo } from "../../provider/engines/port.ts";
import { setEgress } from "../../provider/runtime/networks/egress.ts";
import { createSandbox } from "../../provider/runtime/sandboxes/sandbox-ops.ts";
import { loadSpec } from "../../provider/spec/load.ts";
import { MEMORY_CAPABILITIES, MemoryEngine } from "../support/memory-engine.ts";

interface Vectors {
  accepted: { entry: string; kind: string; canonical: string }[];
  refused: { entry: string; why: string }[];
}
// The vectors the Docker daemon's parser and provider/egress-entries.ts are tested with: one grammar.
const vectors = JSON.parse(
  readFileSync(new URL("../../supervisor/testdata/addresses.json", import.meta.url), "utf8"),
) as Vectors;

const policy = (allow: string[]) => egressPolicyFor("sf-0123456789ab", "uid-1", "sandboxes", allow);

describe("a pod's egress allowlist as a NetworkPolicy", () => {
  it("allows each address as its /32 and each CIDR as written, selecting its own pod alone, owned by it", () => {
    const made = policy(["203.0.113.7", "198.51.100.0/24", "10.0.0.0/8"]);
    expect(made.metadata).toMatchObject({
      name: egressPolicyName("sf-0123456789ab"),
      namespace: "sandboxes",
      ownerReferences: [{ apiVersion: "v1", kind: "Pod", name: "sf-0123456789ab", uid: "uid-1" }],
    });
    expect(made.spec).toEqual({
      podSelector: { matchLabels: { [EGRESS_LABEL]: "sf-0123456789ab" } },
      policyTypes: ["Egress"],
      egress: [
        {
          to: [
            { ipBlock: { cidr: "203.0.113.7/32" } },
            { ipBlock: { cidr: "198.51.100.0/24" } },
            { ipBlock: { cidr: "10.0.0.0/8" } },
          ],
        },
      ],
    });
  });

  it("has no rule at all for an empty list: a rule with no peers would allow everything", () => {
    expect(policy([]).spec?.egress).toEqual([]);
    expect(policy([]).spec?.policyTypes).toEqual(["Egress"]);
  });

  it("opens no port, no pod selector and no namespace: only the ipBlocks the list names", () => {
    const rules = policy(["192.0.2.1"]).spec?.egress ?? [];
    for (const rule of rules) {
      expect(rule.ports).toBeUndefined();
      for (const peer of rule.to ?? []) expect(Object.keys(peer)).toEqual(["ipBlock"]);
    }
  });

  it.each(vectors.accepted.filter((v) => v.kind === "address" || v.kind === "cidr"))(
    "reads $entry as the daemon does",
    ({ kind, entry, canonical }) => {
      const cidr = kind === "address" ? `${canonical}/32` : canonical;
      expect(policy([entry]).spec?.egress).toEqual([{ to: [{ ipBlock: { cidr } }] }]);
    },
  );

  it.each(vectors.accepted.filter((v) => v.kind === "domain" || v.kind === "wildcard"))(
    "refuses the name $entry with the capability's words",
    ({ entry }) => {
      expect(() => policy([entry])).toThrow(KUBERNETES_LIMITS.egressNames);
    },
  );

  it.each(vectors.refused)("refuses $entry as the daemon does", ({ entry, why }) => {
    expect(() => policy(["192.0.2.1", entry])).toThrow(why);
  });

  it("puts the pod on no network, labelled with its id for its policy", () => {
    const spec: ContainerSpec = {
      image: "sandfleet/busybox",
      env: {},
      labels: { "sandfleet.app": "demo" },
      nanoCpus: 0,
      memoryBytes: 0,
      pidsLimit: 0,
      readOnlyRootfs: false,
      networkMode: "egress-demo-net",
      capDrop: ["ALL"],
      securityOpt: [],
      runtime: "runc",
      init: true,
      egressAllow: ["192.0.2.1"],
    };
    const pod = podFor(spec, {
      id: "sf-0123456789ab",
      namespace: "n",
      image: "x",
      envSecret: undefined,
      spreadKey: undefined,
    });
    expect(pod.metadata?.labels?.[EGRESS_LABEL]).toBe("sf-0123456789ab");
    expect(pod.metadata?.labels?.[NETWORK_LABEL]).toBeUndefined();
  });
});

/** The in-memory engine, saying what a cluster says of itself, and keeping allowlists as a cluster does. */
class ClusterLike extends MemoryEngine {
  readonly kept = new Map<string, readonly string[]>();
  readonly egress: EgressClient = {
    set: (id, allow) => {
      this.kept.set(id, allow);
      return Promise.resolve();
    },
  };
  override async info(): Promise<EngineInfo> {
    // A cluster's capabilities, but the disk bound this engine cannot fake.
    const capabilities = { ...KUBERNETES_CAPABILITIES, diskBound: MEMORY_CAPABILITIES.diskBound };
    return { ...(await super.info()), kind: "kubernetes", capabilities };
  }
}

describe("what Kubernetes cannot hold, refused in both doors with the same words before anything is made", () => {
  const file = (sandbox: string) =>
    loadSpec(
      `app: demo\nkubernetes: { registry: "registry.internal:5000" }\nsandboxes:\n  box:\n    image: sandfleet/busybox\n${sandbox}`,
      "sandfleet.yaml",
      "/tmp",
    ).issues;

  it("a name in an allowlist: validate at its line and column, the runtime by its place", async () => {
    const issues = file("    egress:\n      allow: [192.0.2.1, pypi.org]\n");
    expect(issues).toEqual([
      expect.objectContaining({
        path: "sandboxes.box.egress.allow[1]",
        line: 7,
        column: 26,
        reason: `"pypi.org": ${KUBERNETES_LIMITS.egressNames}`,
      }),
    ]);
    const engine = new ClusterLike();
    const made = createSandbox(engine, {
      app: "demo",
      image: "sandfleet/busybox",
      egress: { allow: ["192.0.2.1", "pypi.org"] },
    });
    await expect(made).rejects.toThrow(`egress.allow[1]: "pypi.org": ${KUBERNETES_LIMITS.egressNames}`);
    expect(await engine.containers.list({})).toEqual([]);
  });

  it("a pids bound: validate at its line and column, the runtime by its name", async () => {
    expect(file("    pids: 64\n")).toEqual([
      expect.objectContaining({ path: "sandboxes.box.pids", line: 6, reason: KUBERNETES_LIMITS.pids }),
    ]);
    const engine = new ClusterLike();
    const made = createSandbox(engine, { app: "demo", image: "sandfleet/busybox", pidsLimit: 64 });
    await expect(made).rejects.toThrow(`pidsLimit: ${KUBERNETES_LIMITS.pids}`);
    expect(await engine.containers.list({})).toEqual([]);
  });

  it("an allowlist of addresses goes to the engine with the container, canonical, and no egress network is made", async () => {
    const engine = new ClusterLike();
    const spec = engine.containers.create.bind(engine.containers);
    const specs: ContainerSpec[] = [];
    engine.containers.create = (s) => {
      specs.push(s);
      return spec(s);
    };
    await createSandbox(engine, {
      app: "demo",
      image: "sandfleet/busybox",
      supervisor: false,
      egress: { allow: ["192.0.2.1", "198.51.100.0/24"] },
    });
    expect(specs[0]?.egressAllow).toEqual(["192.0.2.1", "198.51.100.0/24"]);
    expect(specs[0]?.dns).toBeUndefined();
    expect(await engine.networks.list({})).toEqual([]);
  });

  it("a changed list goes to the engine, canonical; one with a name is refused and the list stays", async () => {
    const engine = new ClusterLike();
    const state = await createSandbox(engine, {
      app: "demo",
      image: "sandfleet/busybox",
      supervisor: false,
      egress: { allow: ["192.0.2.1"] },
    });
    await setEgress(engine, state, ["198.51.100.0/24", "203.0.113.9"]);
    expect(engine.kept.get(state.id)).toEqual(["198.51.100.0/24", "203.0.113.9"]);
    await expect(setEgress(engine, state, ["192.0.2.1", "*.pypi.org"])).rejects.toThrow(
      `egress.allow[1]: "*.pypi.org": ${KUBERNETES_LIMITS.egressNames}`,
    );
    expect(engine.kept.get(state.id)).toEqual(["198.51.100.0/24", "203.0.113.9"]);
  });
});
