// As many dynamic resources as the pool stack has (an App and a SandboxPool),
// served by a provider that does nothing: what Pulumi itself costs.
import * as pulumi from "@pulumi/pulumi";

const noop: pulumi.dynamic.ResourceProvider = {
  async create(inputs: Record<string, unknown>) {
    return { id: String(inputs.name), outs: inputs };
  },
  async diff() {
    return { changes: false };
  },
};

class Noop extends pulumi.dynamic.Resource {
  constructor(name: string) {
    super(noop, name, { name });
  }
}

const count = new pulumi.Config().getNumber("count") ?? 2;
for (let i = 0; i < count; i++) new Noop(`noop-${String(i)}`);
