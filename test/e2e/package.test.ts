// What a new user does: install the packed tarball into a project of their
// own, outside this checkout, and use it three ways — a TypeScript Pulumi
// program, a runtime script in plain JavaScript (here), and a YAML-only project
// driven by the installed `sandfleet` command (package-yaml.test.ts).
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupApp, leftovers, NOTHING, uniqueApp } from "../support/engine.ts";
import { moduleGraph, packagesIn } from "../support/module-graph.ts";
import { PulumiStack } from "../support/pulumi.ts";
import { packedForFile } from "../support/packed.ts";
import { mustRun, runCommand } from "../support/run.ts";

const root = new URL("../..", import.meta.url).pathname;
const packed = packedForFile();

describe("the packed package", () => {
  it("holds the built JavaScript, its types and the schema, and no sources or tests", async () => {
    const listing = await mustRun("tar", ["-tzf", packed.tarball]);
    const files = listing.stdout.split("\n").filter(Boolean);
    for (const expected of [
      "package/dist/index.js",
      "package/dist/index.d.ts",
      "package/dist/pulumi.js",
      "package/dist/pulumi.d.ts",
      "package/dist/spec/index.js",
      "package/dist/bin/sandfleet.cjs",
      "package/dist/bin/cli.cjs",
      "package/schema/sandfleet-policy.schema.json",
      "package/schema/sandfleet.schema.json",
      "package/CHANGELOG.md",
      "package/README.md",
    ]) {
      expect(files).toContain(expected);
    }
    expect(files.filter((f) => /\.ts$/.test(f) && !f.endsWith(".d.ts"))).toEqual([]);
    expect(files.filter((f) => /^package\/(test|provider|examples|bench|scripts)\//.test(f))).toEqual([]);
  });

  it("publishes cleanly (npm publish --dry-run)", async () => {
    const dry = await runCommand("npm", ["publish", "--dry-run", "--ignore-scripts", packed.tarball], {
      cwd: packed.work,
    });
    expect(dry.code, dry.stderr).toBe(0);
    // Without a registry login npm says it would need one; anything else it warns about is a defect.
    const warnings = dry.stderr.split("\n").filter((line) => /npm warn/i.test(line) && !/logged in/.test(line));
    expect(warnings).toEqual([]);
  });
});

describe("a TypeScript project that installs sandfleet", () => {
  const app = uniqueApp("pkgts");
  let dir = "";
  let stack: PulumiStack;

  beforeAll(async () => {
    dir = await packed.project("ts-stack", {
      "Pulumi.yaml": [
        "name: pkg-ts",
        "runtime:",
        "  name: nodejs",
        "  options:",
        "    typescript: false",
        "main: index.ts",
        "",
      ].join("\n"),
      "index.ts": [
        'import { App, SandboxPool, Volume } from "sandfleet/pulumi";',
        "",
        `const app = new App("app", { name: "${app}" });`,
        'new Volume("data", { app });',
        'const pool = new SandboxPool("py", { app, replicas: 1, template: { image: "sandfleet/python", user: "sandbox" } });',
        "export const ready = pool.readyCount;",
        "",
      ].join("\n"),
      "runtime.mjs": [
        'import { Sandfleet, PoolExhaustedError } from "sandfleet";',
        "",
        "const sandfleet = new Sandfleet();",
        `const sandbox = await sandfleet.sandboxes.claim("${app}", "py", { waitMs: 30_000 });`,
        'await sandbox.files.write("/tmp/cell.py", "print(6 * 7)\\n");',
        'const result = await sandbox.run(["python3", "/tmp/cell.py"]);',
        'const read = await sandbox.files.readText("/tmp/cell.py");',
        `const exhausted = await sandfleet.sandboxes.claim("${app}", "py").then(() => false, (e) => e instanceof PoolExhaustedError);`,
        "await sandbox.terminate();",
        "await sandbox.remove();",
        "console.log(JSON.stringify({ result, read, exhausted }));",
        "",
      ].join("\n"),
      // With `typescript: false` the language host compiles nothing; this config only type-checks.
      "tsconfig.check.json": JSON.stringify({
        compilerOptions: {
          target: "es2023",
          module: "nodenext",
          moduleResolution: "nodenext",
          strict: true,
          noEmit: true,
          allowImportingTsExtensions: true,
          typeRoots: [join(root, "node_modules/@types")],
          types: ["node"],
        },
        files: ["index.ts"],
      }),
    });
    stack = new PulumiStack(dir, "test");
    await stack.init();
  });

  afterAll(async () => {
    await stack.run(["destroy", "--yes", "--skip-preview"], { allowFailure: true });
    await cleanupApp(app);
  });

  it("type-checks against the package's declarations", async () => {
    const tsc = await runCommand(process.execPath, [
      join(root, "node_modules/typescript/bin/tsc"),
      "-p",
      join(dir, "tsconfig.check.json"),
    ]);
    expect(tsc.stdout + tsc.stderr).toBe("");
    expect(tsc.code).toBe(0);
  });

  it("provisions with pulumi up, runs code from a script, previews no change and destroys", async () => {
    const noChange = async () => {
      const preview = await stack.run(["preview", "--expect-no-changes"], { allowFailure: true });
      expect(preview.code, preview.stdout + preview.stderr).toBe(0);
    };
    await stack.run(["up", "--yes", "--skip-preview"]);
    expect((await stack.outputs()).ready).toBe(1);
    await noChange();

    const runtime = await mustRun(process.execPath, ["--no-experimental-strip-types", "runtime.mjs"], { cwd: dir });
    expect(JSON.parse(runtime.stdout)).toEqual({
      result: { exitCode: 0, stdout: "42\n", stderr: "", timedOut: false },
      read: "print(6 * 7)\n",
      exhausted: true,
    });
    // The claim took the pool's one member; the agent puts a new one in its place.
    await mustRun(join(dir, "node_modules/.bin/sandfleet"), ["agent", "--once", "--app", app], { cwd: dir });
    await noChange();

    await stack.run(["destroy", "--yes", "--skip-preview"]);
    expect(await leftovers(app)).toEqual(NOTHING);
  });

  it("imports the runtime without loading Pulumi", async () => {
    const graph = await moduleGraph("sandfleet", dir);
    expect(graph.some((url) => url.includes("/node_modules/sandfleet/dist/"))).toBe(true);
    expect(packagesIn(graph)).not.toContain("@pulumi/pulumi");
  });
});
