import { describe, expect, it } from "vitest";
import {
  normalizeSandboxParams,
  sandboxContainerSpec,
  sandboxParamsProblems,
} from "../../provider/runtime/sandboxes/sandbox-params.ts";

describe("sandbox parameters", () => {
  it("fill the documented defaults", () => {
    expect(normalizeSandboxParams({ app: "a", image: "sandfleet/busybox" })).toEqual({
      app: "a",
      image: "sandfleet/busybox",
      command: ["sleep", "infinity"],
      env: {},
      cpu: 1,
      memoryMiB: 512,
      pidsLimit: 256,
      readOnlyRootfs: false,
      network: "none",
      runtime: "runc",
      tags: {},
      volumes: [],
      secretEnv: {},
      ports: [],
      supervisor: true,
    });
  });

  it("normalize maps so that key order never shows up as a change", () => {
    const a = normalizeSandboxParams({ app: "a", image: "i", env: { B: "2", A: "1" }, tags: { z: "1", y: "2" } });
    const b = normalizeSandboxParams({ app: "a", image: "i", env: { A: "1", B: "2" }, tags: { y: "2", z: "1" } });
    expect(JSON.stringify(a)).toEqual(JSON.stringify(b));
  });

  it("report every bad property at once", () => {
    const problems = sandboxParamsProblems({
      app: "bad app",
      image: "",
      name: "-x",
      workdir: "relative",
      cpu: 0,
      memoryMiB: 2.5,
      pidsLimit: 0,
      network: "host",
      runtime: "kata",
      env: { "1BAD": "x", OK: 3 },
      command: [],
    });
    expect(problems.map((p) => p.property).sort()).toEqual(
      [
        "app",
        "image",
        "name",
        "command",
        "workdir",
        "cpu",
        "memoryMiB",
        "pidsLimit",
        "network",
        "runtime",
        "env.1BAD",
        "env.OK",
      ].sort(),
    );
  });

  it("refuse gVisor with networking, which this engine's runsc cannot do", () => {
    expect(sandboxParamsProblems({ app: "a", image: "i", runtime: "runsc", network: "app" })).toEqual([
      { property: "runtime", reason: expect.stringContaining("without networking") as string },
    ]);
  });
});

describe("the container of a sandbox", () => {
  const spec = sandboxContainerSpec(
    normalizeSandboxParams({
      app: "demo",
      image: "sandfleet/busybox",
      name: "web",
      memoryMiB: 128,
      cpu: 0.5,
      tags: { team: "x" },
    }),
    "ignored",
  );

  it("is locked down by default", () => {
    expect(spec.networkMode).toBe("none");
    expect(spec.capDrop).toEqual(["ALL"]);
    expect(spec.securityOpt).toEqual(["no-new-privileges"]);
    expect(spec.memoryBytes).toBe(128 * 1024 * 1024);
    expect(spec.nanoCpus).toBe(500_000_000);
    expect(spec.pidsLimit).toBe(256);
    expect(spec.runtime).toBe("runc");
    // The engine's init reaps orphans, so zombies never hold the pids limit.
    expect(spec.init).toBe(true);
  });

  it("is named after app and sandbox and labelled with its owners", () => {
    expect(spec.name).toBe("sandfleet-sb-4-demo-web");
    expect(spec.labels).toMatchObject({
      "sandfleet.managed": "true",
      "sandfleet.app": "demo",
      "sandfleet.kind": "sandbox",
      "sandfleet.name": "web",
      "sandfleet.tag.team": "x",
    });
  });

  it("gets a writable /tmp when its root filesystem is read-only", () => {
    const readOnly = sandboxContainerSpec(
      normalizeSandboxParams({ app: "a", image: "i", readOnlyRootfs: true }),
      "sb-1",
    );
    expect(readOnly.readOnlyRootfs).toBe(true);
    expect(Object.keys(readOnly.tmpfs ?? {})).toEqual(["/tmp"]);
    expect(readOnly.name).toBe("sandfleet-sb-1-a-sb-1");
  });

  it("joins the app's network only when asked", () => {
    const networked = sandboxContainerSpec(normalizeSandboxParams({ app: "a", image: "i", network: "app" }), "n");
    expect(networked.networkMode).toBe("sandfleet-a");
  });
});
