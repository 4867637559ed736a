import { randomBytes } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { uniqueApp } from "./engine.ts";
import { PulumiStack } from "./pulumi.ts";

const examples = new URL("../../examples/", import.meta.url).pathname;

/**
 * An example stack under a unique app name, its sandfleet.yaml copied beside
 * the original (so that its relative paths hold) where the test may edit it.
 */
export function exampleStack(example: string, cleanup: (app: string) => Promise<void>) {
  const dir = join(examples, example);
  const id = randomBytes(4).toString("hex");
  const app = uniqueApp(example.slice(0, 6));
  const specFile = join(dir, `.e2e-${id}.yaml`);
  const stack = new PulumiStack(dir, `e2e-${id}`);
  const original = readFileSync(join(dir, "sandfleet.yaml"), "utf8");
  return {
    app,
    stack,
    specFile,
    original,
    async init(config: Record<string, string> = {}) {
      writeFileSync(specFile, original);
      await stack.init({ "sandfleet:file": specFile, "sandfleet:app": app, ...config });
    },
    edit(change: (text: string) => string) {
      writeFileSync(specFile, change(readFileSync(specFile, "utf8")));
    },
    async dispose() {
      await stack.dispose();
      await cleanup(app);
      rmSync(specFile, { force: true });
    },
  };
}
