import * as pulumi from "@pulumi/pulumi";
import { App } from "../resources/app.ts";
import { Sandbox } from "../resources/sandbox.ts";
import { sandboxParamsFromSpec } from "./to-params.ts";
import type { SandfleetSpec } from "./types.ts";

export interface DeployedSpec {
  app: App;
  sandboxes: Record<string, Sandbox>;
}

/** Turns a validated spec into Pulumi resources, named after the spec's own names. */
export function deploySpec(spec: SandfleetSpec): DeployedSpec {
  const app = new App(spec.app, { name: spec.app, ...(spec.dockerHost ? { dockerHost: spec.dockerHost } : {}) });
  const sandboxes: Record<string, Sandbox> = {};
  for (const [name, sandbox] of Object.entries(spec.sandboxes)) {
    const {
      app: _appName,
      volumes: _volumes,
      secretEnv: _secretEnv,
      ...params
    } = sandboxParamsFromSpec(spec, name, sandbox);
    sandboxes[name] = new Sandbox(name, { ...params, app });
  }
  return { app, sandboxes };
}

/** Stack outputs a reviewer and a script can read: container id per sandbox. */
export function specOutputs(deployed: DeployedSpec): Record<string, pulumi.Output<unknown>> {
  return {
    app: deployed.app.name,
    sandboxes: pulumi.output(
      Object.fromEntries(Object.entries(deployed.sandboxes).map(([name, s]) => [name, s.containerId])),
    ),
  };
}
