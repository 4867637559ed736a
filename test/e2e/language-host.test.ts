// The Node.js language host the bootstrap builds is older than the CLI and takes its options from
// flags (scripts/pulumi-nodejs-launcher gives it the project's): a program runs as Pulumi.yaml says.
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PulumiStack } from "../support/pulumi.ts";

const root = new URL("../../", import.meta.url).pathname;
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** What a program of a project whose runtime options are `options` sees of TypeScript support, and its Node arguments. */
async function whatTheProgramSees(
  options: string,
): Promise<{ typescript: string; tsNode: boolean; execArgv: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), "sandfleet-language-host-"));
  dirs.push(dir);
  writeFileSync(join(dir, "Pulumi.yaml"), `name: language-host\nruntime:\n  name: nodejs\n${options}main: index.cjs\n`);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "language-host", private: true }));
  // With `typescript: true` the host loads the TypeScript compiler for ts-node: that load is what it costs.
  writeFileSync(
    join(dir, "index.cjs"),
    `console.log("SEEN " + JSON.stringify({ typescript: process.env.PULUMI_NODEJS_TYPESCRIPT ?? "unset", ` +
      `tsNode: Object.keys(require.cache).some((file) => /[\\\\/]typescript(@[^\\\\/]*)?[\\\\/].*typescript\\.js$/.test(file)), execArgv: process.execArgv }));\n`,
  );
  // The program needs @pulumi/pulumi from this checkout, as the examples find it.
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
  const stack = new PulumiStack(dir, "test");
  try {
    await stack.init();
    const preview = await stack.run(["preview"]);
    const seen = /SEEN (\{.*\})/.exec(preview.stdout)?.[1];
    expect(seen, preview.stdout).toBeDefined();
    return JSON.parse(seen ?? "{}") as { typescript: string; tsNode: boolean; execArgv: string[] };
  } finally {
    await stack.dispose();
  }
}

describe("the Node.js language host, started by the real pulumi CLI", () => {
  it("runs a program without ts-node when Pulumi.yaml sets typescript: false, with its nodeargs", async () => {
    const seen = await whatTheProgramSees("  options:\n    typescript: false\n    nodeargs: --no-warnings\n");
    expect(seen.typescript).toBe("unset");
    expect(seen.tsNode).toBe(false);
    expect(seen.execArgv).toContain("--no-warnings");
  });

  it("keeps Pulumi's default, ts-node, when Pulumi.yaml says nothing", async () => {
    const seen = await whatTheProgramSees("");
    expect(seen.typescript).toBe("true");
    expect(seen.tsNode).toBe(true);
  });
});
