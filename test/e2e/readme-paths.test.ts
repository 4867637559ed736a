// The README's first hour, run as a reader runs it: the sections "Install",
// "A YAML-only project", "A TypeScript program" and "Runtime" give the files
// and the commands, taken here from the README's own text, written and run in
// a directory of the reader's with the packed package. Nothing is set for the
// reader: no PULUMI_BACKEND_URL, no passphrase, a HOME of its own, so a step
// the README leaves out fails here as it would fail the reader.
//
// What a reader does that this does differently, and why:
// - `sandfleet` comes from `npm pack` of this checkout (it is the version under
//   test), and every other package at the version this checkout has (npm's
//   cache holds it: no download);
// - the app name `agents` becomes a name of this test's (the engine is shared);
// - a project's bare `npm install` links one shared install of the first
//   Install command instead of installing again, after checking that every
//   range of the project's package.json takes the version installed.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import semver from "semver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupApp, leftovers, NOTHING, uniqueApp } from "../support/engine.ts";
import { blockUnder, commandLines } from "../support/markdown.ts";
import { npmInstall, packTarball } from "../support/packed.ts";
import { runCommand, type RunResult } from "../support/run.ts";

const root = new URL("../..", import.meta.url).pathname;
const readme = readFileSync(join(root, "README.md"), "utf8");
const block = (heading: string, what: string, pick: (b: { lang: string; text: string; label: string }) => boolean) =>
  blockUnder(readme, "README.md", heading, what, pick);
const labelled = (heading: string, file: string) =>
  block(heading, `labelled \`${file}\`:`, (b) => b.label === `\`${file}\`:`);
const shellBlock = (heading: string, first: string) =>
  block(heading, `of commands starting with \`${first}\``, (b) => b.lang === "sh" && b.text.startsWith(first));

const work = mkdtempSync(join(tmpdir(), "sandfleet-readme-"));
const shared = join(work, "shared");
let tarball = "";

/** The reader's own shell: a HOME of its own, and none of the Pulumi settings the tests run with. */
function shell(script: string, cwd: string, home: string): Promise<RunResult> {
  mkdirSync(home, { recursive: true });
  return runCommand(
    "env",
    [
      ...["-u", "PULUMI_BACKEND_URL", "-u", "PULUMI_CONFIG_PASSPHRASE", "-u", "PULUMI_ACCESS_TOKEN"],
      "bash",
      "-euo",
      "pipefail",
      "-c",
      script,
    ],
    { cwd, env: { HOME: home, PULUMI_HOME: join(home, ".pulumi"), PULUMI_SKIP_UPDATE_CHECK: "true" } },
  );
}

/** A block's `npm install` lines, as the names they install. */
function npmInstalls(commands: string): string[][] {
  return commandLines(commands)
    .filter((line) => line.startsWith("npm install "))
    .map((line) => line.split(/\s+/).slice(2));
}

/** A project's bare `npm install`: its package.json must take what the shared install holds. */
function linkShared(dir: string): void {
  const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Record<
    string,
    Record<string, string> | undefined
  >;
  const wanted = { ...manifest.dependencies, ...manifest.devDependencies };
  expect(Object.keys(wanted)).toContain("sandfleet");
  for (const [name, range] of Object.entries(wanted)) {
    const manifestPath = join(shared, "node_modules", name, "package.json");
    const { version } = JSON.parse(readFileSync(manifestPath, "utf8")) as { version: string };
    expect(semver.satisfies(version, range), `package.json asks for ${name} ${range}; the package is ${version}`).toBe(
      true,
    );
  }
  symlinkSync(join(shared, "node_modules"), join(dir, "node_modules"));
}

/** Runs a block's commands in order, its bare `npm install` as linkShared; stops before `until`. */
async function runSteps(lines: string[], dir: string, home: string): Promise<RunResult> {
  const script: string[] = [];
  for (const line of lines) {
    if (line.replace(/\s+#.*$/, "") === "npm install") linkShared(dir);
    else script.push(line);
  }
  return shell(script.join("\n"), dir, home);
}

/**
 * The lines of a block, split at the first line that starts with `at`. The
 * second part runs in a shell of its own, so it starts with the first part's
 * `export`s, as the reader's one shell would still have them.
 */
function splitAt(block: string, at: string): [string[], string[]] {
  const lines = block.split("\n").filter((line) => line.trim() !== "");
  const index = lines.findIndex((line) => line.startsWith(at));
  if (index < 0) throw new Error(`README.md: the block has no step \`${at}\`:\n${block}`);
  const before = lines.slice(0, index);
  return [before, [...before.filter((line) => line.startsWith("export ")), ...lines.slice(index)]];
}

beforeAll(async () => {
  tarball = await packTarball(work);
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe("Install", () => {
  const commands = shellBlock("## Install", "npm install");
  const installs = npmInstalls(commands);

  it("installs sandfleet with Pulumi for a program, which every project below shares", async () => {
    expect(installs[0]).toEqual(["sandfleet", "@pulumi/pulumi"]);
    mkdirSync(shared);
    writeFileSync(join(shared, "package.json"), JSON.stringify({ private: true, type: "module" }));
    // The TypeScript path's devDependencies join the one install that every path links.
    const typeCheck = JSON.parse(labelled("### A TypeScript program", "package.json")) as {
      devDependencies: Record<string, string>;
    };
    await npmInstall(shared, [...(installs[0] ?? []), ...Object.keys(typeCheck.devDependencies)], tarball);
    const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
    expect(JSON.parse(readFileSync(join(shared, "node_modules/sandfleet/package.json"), "utf8"))).toMatchObject({
      version,
    });
  });

  it("installs sandfleet alone for an agent, Docker or Kubernetes, with no Kubernetes library", async () => {
    expect(installs.slice(1)).toEqual([["sandfleet"]]);
    const agent = join(work, "agent");
    mkdirSync(agent);
    writeFileSync(join(agent, "package.json"), JSON.stringify({ private: true, type: "module" }));
    await npmInstall(agent, ["sandfleet"], tarball);
    const loads = `node --input-type=module -e 'const { Sandfleet } = await import("sandfleet"); console.log(typeof Sandfleet)'`;
    expect((await shell(loads, agent, join(work, "agent-home"))).stdout).toBe("function\n");
    // The WebSockets of execs on a cluster come with the package; no Kubernetes client library does.
    expect(() => readFileSync(join(agent, "node_modules/ws/package.json"))).not.toThrow();
    expect(() => readFileSync(join(agent, "node_modules/@kubernetes/client-node/package.json"))).toThrow();
    expect(() => readFileSync(join(agent, "node_modules/@pulumi/pulumi/package.json"))).toThrow();
  });
});

describe("A YAML-only project, then the Runtime against its pool", () => {
  const app = uniqueApp("rdyaml");
  const home = join(work, "yaml-home");
  const dir = join(work, "my-sandboxes");
  const rename = (text: string) => text.replace(/\bagents\b/g, app);

  afterAll(async () => {
    await cleanupApp(app);
  });

  it("writes the four files, validates, goes up, claims, execs, runs the Runtime code and is destroyed", async () => {
    const tree = block("### A YAML-only project", "of the project's files", (b) => b.text.startsWith("my-sandboxes/"));
    const files = treeFiles(tree);
    expect(Object.keys(files).sort()).toEqual(["Pulumi.yaml", "index.js", "package.json", "sandfleet.yaml"]);
    mkdirSync(dir);
    for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), rename(text));

    const [up, down] = splitAt(rename(shellBlock("### A YAML-only project", "npm install")), "npx sandfleet destroy");
    const steps = await runSteps(up, dir, home);
    expect(steps.code, steps.stdout + steps.stderr).toBe(0);
    expect(steps.stdout).toContain("valid");
    expect(steps.stdout.endsWith("42\n")).toBe(true);

    // The Runtime section's code, as a script of the reader's in the same project.
    const runtime = rename(block("## Runtime", "of TypeScript", (b) => b.lang === "ts"));
    writeFileSync(join(dir, "runtime.ts"), runtime);
    // It type-checks under the TypeScript path's config, given this file instead of index.ts.
    const config = JSON.parse(labelled("### A TypeScript program", "tsconfig.json")) as { files: string[] };
    writeFileSync(join(dir, "tsconfig.runtime.json"), JSON.stringify({ ...config, files: ["runtime.ts"] }));
    const typed = await shell("npx tsc -p tsconfig.runtime.json", dir, home);
    expect(typed.stdout + typed.stderr).toBe("");
    const ran = await shell("node runtime.ts", dir, home);
    expect(ran.code, ran.stdout + ran.stderr).toBe(0);
    expect(ran.stdout).toBe("HELLO\n\n2\n\n");

    const destroyed = await runSteps(down, dir, home);
    expect(destroyed.code, destroyed.stdout + destroyed.stderr).toBe(0);
    expect(await leftovers(app)).toEqual(NOTHING);
  });
});

describe("A TypeScript program", () => {
  const app = uniqueApp("rdts");
  const home = join(work, "ts-home");
  const dir = join(work, "my-stack");
  const heading = "### A TypeScript program";

  afterAll(async () => {
    const [, down] = splitAt(shellBlock(heading, "npm install"), "pulumi destroy");
    await shell(down.join("\n"), dir, home);
    await cleanupApp(app);
  });

  beforeAll(() => {
    mkdirSync(dir);
    writeFileSync(join(dir, "Pulumi.yaml"), labelled(heading, "Pulumi.yaml"));
    writeFileSync(join(dir, "package.json"), labelled(heading, "package.json"));
    writeFileSync(join(dir, "tsconfig.json"), labelled(heading, "tsconfig.json"));
    writeFileSync(
      join(dir, "index.ts"),
      labelled(heading, "index.ts").replace('new App("agents")', `new App("${app}")`),
    );
  });

  it("needs its backend step: without `pulumi login`, pulumi asks for a Pulumi Cloud token", async () => {
    const [steps] = splitAt(shellBlock(heading, "npm install"), "pulumi up");
    const withoutLogin = steps.filter((line) => !line.startsWith("pulumi login"));
    expect(withoutLogin).toHaveLength(steps.length - 1);
    const scratch = join(work, "no-login");
    mkdirSync(scratch);
    for (const file of ["Pulumi.yaml", "package.json", "tsconfig.json", "index.ts"]) {
      writeFileSync(join(scratch, file), readFileSync(join(dir, file)));
    }
    const failed = await runSteps(withoutLogin, scratch, join(work, "no-login-home"));
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toContain("PULUMI_ACCESS_TOKEN must be set");
  });

  it("type-checks, logs in to a local backend, goes up with its pool ready, and is destroyed", async () => {
    const [up, down] = splitAt(shellBlock(heading, "npm install"), "pulumi destroy");
    expect(up.some((line) => line.startsWith("npx tsc"))).toBe(true);
    const steps = await runSteps(up, dir, home);
    expect(steps.code, steps.stdout + steps.stderr).toBe(0);
    // The login kept the state in this reader's HOME (pulumi's own `--local` would take the account's home).
    expect(existsSync(join(home, ".pulumi/stacks/my-stack/dev.json"))).toBe(true);
    const ready = await shell("pulumi stack output ready", dir, home);
    expect(ready.stdout.trim()).toBe("4");
    const destroyed = await runSteps(down, dir, home);
    expect(destroyed.code, destroyed.stdout + destroyed.stderr).toBe(0);
    expect(await leftovers(app)).toEqual(NOTHING);
  });

  it("fails its type-check when the program is wrong", async () => {
    const broken = join(work, "broken");
    mkdirSync(broken);
    for (const file of ["package.json", "tsconfig.json"]) {
      writeFileSync(join(broken, file), readFileSync(join(dir, file)));
    }
    writeFileSync(
      join(broken, "index.ts"),
      'import { App } from "sandfleet/pulumi";\nnew App("x", { replicas: 4 });\n',
    );
    const check = commandLines(shellBlock(heading, "npm install")).filter((line) => line.startsWith("npx tsc"));
    const tsc = await runSteps(["npm install", ...check], broken, join(work, "broken-home"));
    expect(tsc.code).not.toBe(0);
    expect(tsc.stdout).toContain("error TS2353");
  });
});

/** The files of the README's tree block: a name at the left, its text in the column beside it. */
function treeFiles(tree: string): Record<string, string> {
  const lines = tree.split("\n").slice(1);
  const files: Record<string, string> = {};
  let current = "";
  let column = 0;
  for (const line of lines) {
    const named = /^ {2}(\S+)(\s+)(.*)$/.exec(line);
    if (named) {
      current = named[1] ?? "";
      column = 2 + current.length + (named[2]?.length ?? 0);
      files[current] = `${named[3] ?? ""}\n`;
    } else if (current && line.trim() !== "") {
      files[current] = `${files[current] ?? ""}${line.slice(column)}\n`;
    }
  }
  return files;
}
