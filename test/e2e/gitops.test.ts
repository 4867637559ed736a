// The GitOps kit as CI runs it: examples/gitops copied into a git repository
// of its own, its pull-request and merge jobs run as scripts (outside GitHub)
// against a real engine and the real pulumi.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupApp, leftovers, NOTHING, uniqueApp } from "../support/engine.ts";
import { mustRun, runCommand } from "../support/run.ts";

const root = new URL("../..", import.meta.url).pathname;
const kit = join(root, "examples/gitops");
const repo = mkdtempSync(join(tmpdir(), "sandfleet-gitops-"));
const app = uniqueApp("gitops");
const env = {
  PULUMI_BACKEND_URL: `file://${mkdtempSync(join(tmpdir(), "sandfleet-gitops-state-"))}`,
  PULUMI_CONFIG_PASSPHRASE: "",
  STACK: "test",
  BASE_REF: "main",
  SANDFLEET: `${process.execPath} ${join(root, "dist/bin/sandfleet.cjs")}`,
};
const git = (...args: string[]) =>
  mustRun("git", ["-c", "user.name=ci", "-c", "user.email=ci@example.com", ...args], { cwd: repo });
const job = (script: string, extra: Record<string, string> = {}) =>
  runCommand("bash", [join("ci", script)], { cwd: repo, env: { ...env, ...extra } });
const spec = () => readFileSync(join(repo, "sandfleet.yaml"), "utf8");
const writeSpec = (text: string) => {
  writeFileSync(join(repo, "sandfleet.yaml"), text);
};

beforeAll(async () => {
  for (const file of ["sandfleet.yaml", "sandfleet.policy.yaml", "Pulumi.yaml", "index.js", "package.json", "ci"]) {
    cpSync(join(kit, file), join(repo, file), { recursive: true });
  }
  // The package as `npm ci` would install it: this checkout, and the Pulumi SDK beside it.
  mkdirSync(join(repo, "node_modules"));
  symlinkSync(root, join(repo, "node_modules/sandfleet"));
  symlinkSync(join(root, "node_modules/@pulumi"), join(repo, "node_modules/@pulumi"));
  writeFileSync(join(repo, ".gitignore"), "node_modules/\nsandfleet-summary.md\n");
  writeSpec(
    spec()
      .replace("app: gitops-example", `app: ${app}`)
      .replace("sandfleet/python", "sandfleet/busybox")
      .replace("memory: 256Mi", "memory: 64Mi"),
  );
  await git("init", "-q", "-b", "main");
  await git("add", ".");
  await git("commit", "-q", "-m", "base");
});

afterAll(async () => {
  await runCommand("bash", ["-c", `${env.SANDFLEET} destroy --stack test`], { cwd: repo, env });
  await cleanupApp(app);
  rmSync(repo, { recursive: true, force: true });
});

describe("the GitOps kit", () => {
  it("deploys the base on merge, and summarises a one-field change for the pull request", async () => {
    const merged = await job("merge.sh");
    expect(merged.code, merged.stdout + merged.stderr).toBe(0);

    await git("checkout", "-q", "-b", "bigger");
    writeSpec(spec().replace("memory: 64Mi", "memory: 96Mi"));
    await git("commit", "-q", "-am", "more memory");
    const stepSummary = join(repo, "..", `${app}-step-summary.md`);
    const review = await job("pull-request.sh", { FORMAT: "github", GITHUB_STEP_SUMMARY: stepSummary });
    expect(review.code, review.stdout + review.stderr).toBe(0);
    const summary = readFileSync(join(repo, "sandfleet-summary.md"), "utf8");
    expect(readFileSync(stepSummary, "utf8")).toBe(summary);
    expect(summary).toContain("### sandfleet preview of stack `test`: 1 to update");
    const rows = summary.split("\n").filter((line) => line.startsWith("| SandboxPool"));
    expect(rows).toEqual([
      "| SandboxPool `python` | update in place | `template.memoryMiB`: 64 → 96 | rolls 2 unclaimed members to the new template, one at a time, keeping the ready count; no claimed members |",
    ]);
    expect(
      summary
        .split("\n")
        .filter((line) => line.startsWith("| ") && !line.startsWith("| resource") && !line.startsWith("| ---")),
    ).toHaveLength(1);
  });

  it("turns a bad spec into annotations on the diff and fails", async () => {
    await git("checkout", "-q", "-b", "broken", "main");
    writeSpec(spec().replace("memory: 64Mi", "memory: lots"));
    await git("commit", "-q", "-am", "broken");
    const review = await job("pull-request.sh", { FORMAT: "github" });
    expect(review.code).not.toBe(0);
    const lines = spec().split("\n");
    const line = lines.findIndex((l) => l.includes("memory: lots")) + 1;
    expect(review.stdout).toContain(
      `::error file=sandfleet.yaml,line=${String(line)},col=15,title=sandfleet::pools.python.template.memory: "lots" must be a size like 512Mi or 2Gi`,
    );
  });

  it("refuses a policy violation on merge before anything is made", async () => {
    await git("checkout", "-q", "-b", "untrusted", "main");
    const other = uniqueApp("gitopsbad");
    writeSpec(spec().replace(`app: ${app}`, `app: ${other}`).replace("trust: trusted", "trust: untrusted"));
    await git("commit", "-q", "-am", "untrusted code under runc");
    const review = await job("pull-request.sh", { FORMAT: "github" });
    expect(review.code).not.toBe(0);
    expect(review.stdout).toContain(
      "title=sandfleet policy untrusted-under-gvisor::pools.python.template: runtime must be runsc",
    );
    const merged = await job("merge.sh", { STACK: "untrusted" });
    expect(merged.code).not.toBe(0);
    expect(merged.stdout + merged.stderr).toContain('(policy rule "untrusted-under-gvisor")');
    expect(await leftovers(other)).toEqual(NOTHING);
    await runCommand("bash", ["-c", `${env.SANDFLEET} destroy --stack untrusted`], { cwd: repo, env });
  });
});
