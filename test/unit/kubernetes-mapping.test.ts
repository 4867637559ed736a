import { describe, expect, it } from "vitest";
import { kubeMetadata, kubeName, labelsOf, selectorFor } from "../../provider/engines/kubernetes/labels.ts";
import { podFor } from "../../provider/engines/kubernetes/pod-spec.ts";
import { podSecurityRefusal } from "../../provider/engines/kubernetes/pod-security.ts";
import { EngineError, InvalidArgumentError } from "../../provider/errors.ts";
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

  it("meets Pod Security restricted when its user is a non-root uid, and promises nothing it cannot check", () => {
    const ctx = { id: "sf-1", namespace: "n", image: "i", envSecret: undefined, spreadKey: undefined };
    const nonRoot = podFor({ ...spec, user: "1000:1000", capDrop: [], securityOpt: [] }, ctx);
    expect(nonRoot.spec?.securityContext).toEqual({ seccompProfile: { type: "RuntimeDefault" }, runAsNonRoot: true });
    expect(nonRoot.spec?.containers[0]?.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
    // An image whose own USER is a non-root uid needs no user: in the spec.
    const fromImage = podFor({ ...spec, user: undefined }, { ...ctx, imageUser: "1000" });
    expect(fromImage.spec?.containers[0]?.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    expect(
      podFor({ ...spec, user: "0" }, { ...ctx, imageUser: "1000" }).spec?.securityContext?.runAsNonRoot,
    ).toBeUndefined();
    for (const user of [undefined, "0", "0:0", "root", "sandbox"]) {
      const pod = podFor({ ...spec, user }, ctx);
      expect(pod.spec?.securityContext?.runAsNonRoot).toBeUndefined();
      expect(pod.spec?.containers[0]?.securityContext?.runAsNonRoot).toBeUndefined();
    }
  });

  it("never takes sandfleet's own labels (ownership, network) from a caller's labels", () => {
    const pod = podFor(
      { ...spec, labels: { "sandfleet.io/network": "other-app", "sandfleet.io/engine-object": "false" } },
      { id: "sf-1", namespace: "n", image: "i", envSecret: undefined, spreadKey: undefined },
    );
    expect(pod.metadata?.labels?.["sandfleet.io/network"]).toBeUndefined();
    expect(pod.metadata?.labels?.["sandfleet.io/engine-object"]).toBe("true");
  });

  it("says why a namespace enforcing Pod Security refused it, and what to change", () => {
    const refused = new EngineError(
      'create pod for box on k: pods "sf-1" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true (pod or container "sandbox" must set securityContext.runAsNonRoot=true)',
    );
    const said = podSecurityRefusal(refused, "box", "sandboxes", undefined);
    expect(said).toBeInstanceOf(InvalidArgumentError);
    expect(String(said)).toMatch(
      /sandbox box: namespace sandboxes enforces Pod Security "restricted", which refuses pods that may run as root: this sandbox runs as its image's user .*numeric uid other than 0/,
    );
    expect(podSecurityRefusal(new EngineError("other"), "box", "sandboxes", undefined)).toBeInstanceOf(EngineError);
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
