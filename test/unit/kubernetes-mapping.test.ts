import { describe, expect, it } from "vitest";
import { kubeMetadata, kubeName, labelsOf, selectorFor } from "../../provider/engines/kubernetes/labels.ts";
import { podFor } from "../../provider/engines/kubernetes/pod-spec.ts";
import { exitCodeOf } from "../../provider/engines/kubernetes/exec.ts";
import type { ContainerSpec } from "../../provider/engines/port.ts";

const spec: ContainerSpec = {
  name: "sandfleet-sb-4-demo-box",
  image: "sandfleet/busybox",
  cmd: ["sleep", "infinity"],
  env: { TOKEN: "secret-value" },
  labels: { "sandfleet.app": "demo", "sandfleet.readiness": '{"exec":["true"]}', "sandfleet.pool": "py" },
  nanoCpus: 500_000_000,
  memoryBytes: 64 << 20,
  pidsLimit: 64,
  diskBytes: 1 << 30,
  readOnlyRootfs: true,
  networkMode: "none",
  capDrop: ["ALL"],
  securityOpt: ["no-new-privileges"],
  runtime: "runsc",
  init: false,
  tmpfs: { "/tmp": "rw,size=64m" },
  mounts: [{ volume: "Sandfleet_Vol", target: "/data", readOnly: true }],
  ports: [8000],
};

describe("labels on Kubernetes", () => {
  it("keeps every label in an annotation, and sets as labels those Kubernetes can hold", () => {
    const meta = kubeMetadata(spec.labels, spec.name);
    expect(meta.labels).toMatchObject({ "sandfleet.app": "demo", "sandfleet.pool": "py" });
    expect(meta.labels["sandfleet.readiness"]).toBeUndefined();
    expect(labelsOf({ annotations: meta.annotations })).toEqual(spec.labels);
  });

  it("selects by what the API server can hold and tests the rest, 'set' included, on what it returns", () => {
    const { selector, matches } = selectorFor({ "sandfleet.app": "demo", "sandfleet.readiness": "", "odd key!": "x" });
    expect(selector).toBe("sandfleet.io/engine-object=true,sandfleet.app=demo");
    expect(matches({ "sandfleet.app": "demo", "sandfleet.readiness": "{}", "odd key!": "x" })).toBe(true);
    expect(matches({ "sandfleet.app": "demo", "odd key!": "x" })).toBe(false);
  });

  it("names objects Kubernetes' way, the same name each time", () => {
    expect(kubeName("sandfleet-claim-3-app-py-1a2b")).toBe("sandfleet-claim-3-app-py-1a2b");
    expect(kubeName("Sandfleet_Vol")).toMatch(/^sf-[0-9a-f]{32}$/);
    expect(kubeName("Sandfleet_Vol")).toBe(kubeName("Sandfleet_Vol"));
    expect(kubeName("Sandfleet_Vol")).not.toBe(kubeName("sandfleet_vol"));
  });
});

describe("a sandbox's pod", () => {
  const pod = podFor(spec, {
    id: "sf-0123456789ab",
    namespace: "sandboxes",
    image: "registry:5000/sandfleet/images:abc",
    envSecret: "sf-0123456789ab-env",
    spreadKey: "pool",
  });
  const [container] = pod.spec?.containers ?? [];

  it("is hardened as the container is on Docker, and never restarted", () => {
    expect(pod.spec).toMatchObject({
      restartPolicy: "Never",
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      runtimeClassName: "gvisor",
      securityContext: { seccompProfile: { type: "RuntimeDefault" } },
    });
    expect(container?.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(container?.resources?.limits).toEqual({
      cpu: "500m",
      memory: String(64 << 20),
      "ephemeral-storage": String(1 << 30),
    });
  });

  it("reads its environment from a Secret: no value in the spec", () => {
    expect(container?.envFrom).toEqual([{ secretRef: { name: "sf-0123456789ab-env" } }]);
    expect(JSON.stringify(pod)).not.toContain("secret-value");
  });

  it("mounts volumes as claims, tmpfs in memory, and spreads a pool's members over nodes", () => {
    expect(pod.spec?.volumes).toContainEqual({
      name: "volume-0",
      persistentVolumeClaim: { claimName: kubeName("Sandfleet_Vol") },
    });
    expect(pod.spec?.volumes).toContainEqual({ name: "tmpfs-0", emptyDir: { medium: "Memory", sizeLimit: "64Mi" } });
    expect(pod.spec?.topologySpreadConstraints?.[0]).toMatchObject({
      topologyKey: "kubernetes.io/hostname",
      maxSkew: 1,
    });
  });

  it("refuses what only sandfleet's daemons on Docker use", () => {
    expect(() =>
      podFor(
        { ...spec, dns: ["10.0.0.1"] },
        { id: "sf-1", namespace: "n", image: "i", envSecret: undefined, spreadKey: undefined },
      ),
    ).toThrow(/not available on Kubernetes/);
  });
});

describe("an exec's exit code", () => {
  it("is 0 on success and the ExitCode cause otherwise", () => {
    expect(exitCodeOf({ status: "Success" })).toBe(0);
    expect(exitCodeOf({ status: "Failure", details: { causes: [{ reason: "ExitCode", message: "3" }] } })).toBe(3);
    expect(exitCodeOf({ status: "Failure", message: "executable not found" })).toBe(126);
  });
});
