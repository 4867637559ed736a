import { describe, expect, it } from "vitest";
import * as runtime from "../../provider/index.ts";
import * as pulumi from "../../provider/pulumi.ts";
import * as spec from "../../provider/spec/index.ts";
import { moduleGraph, packagesIn } from "../support/module-graph.ts";

const root = new URL("../..", import.meta.url).pathname;

describe("the package's entry points", () => {
  it("sandfleet (the runtime) loads neither Pulumi nor the resources", async () => {
    const graph = await moduleGraph(new URL("../../provider/index.ts", import.meta.url).href, root);
    expect(graph.some((url) => url.endsWith("/provider/client/sandbox.ts"))).toBe(true);
    expect(packagesIn(graph)).not.toContain("@pulumi/pulumi");
    expect(graph.filter((url) => url.includes("/provider/resources/"))).toEqual([]);
  });

  it("sandfleet/spec checks files without Pulumi or an engine client", async () => {
    const graph = await moduleGraph(new URL("../../provider/spec/index.ts", import.meta.url).href, root);
    expect(packagesIn(graph)).not.toContain("@pulumi/pulumi");
    expect(graph.filter((url) => url.includes("/provider/engines/docker/"))).toEqual([]);
  });

  it("exports every class and error the README documents, from where it says", () => {
    for (const name of [
      "Sandfleet",
      "Sandbox",
      "SandboxPool",
      "SandboxProcess",
      "SandboxFiles",
      "Agent",
      "SandfleetError",
      "EngineUnavailableError",
      "NotFoundError",
      "ConflictError",
      "InvalidArgumentError",
      "TimeoutError",
      "PoolExhaustedError",
      "CommandExitError",
      "ImageBuildError",
    ]) {
      expect(runtime, name).toHaveProperty(name, expect.any(Function));
    }
    for (const name of ["App", "Image", "Volume", "Secret", "Sandbox", "SandboxPool", "Snapshot", "sandfleetProgram"]) {
      expect(pulumi, name).toHaveProperty(name, expect.any(Function));
    }
    for (const name of ["loadSpec", "loadSpecFile", "formatIssue", "SpecError"]) {
      expect(spec, name).toHaveProperty(name, expect.any(Function));
    }
  });

  it("keeps every error a SandfleetError with its own name", () => {
    const errors: Error[] = [
      new runtime.EngineUnavailableError("x"),
      new runtime.NotFoundError("x"),
      new runtime.PoolExhaustedError("x"),
      new runtime.ImageBuildError("x", "output"),
      new spec.SpecError([{ file: "f.yaml", line: 1, column: 1, path: "app", reason: "x" }]),
    ];
    for (const error of errors) {
      expect(error).toBeInstanceOf(runtime.SandfleetError);
      expect(error.name).toBe(error.constructor.name);
    }
  });
});
