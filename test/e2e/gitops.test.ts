// The GitOps kit as a team adopts it: examples/gitops copied into a git
// repository of its own, installed with its committed lockfile, its README's
// commands run as written, and its pull-request and merge jobs run as scripts
// (outside GitHub) against a real engine and the real pulumi. Each pull
// request is a branch off the base the test makes.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import semver from "semver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupApp, leftovers, NOTHING, uniqueApp } from "../support/engine.ts";
import { blockUnder, commandLines } from "../support/markdown.ts";
import { packTarball } from "../support/packed.ts";
import { mustRun, runCommand } from "../support/run.ts";

const root = new URL("../..", import.meta.url).pathname;
const kit = join(root, "examples/gitops");
const kitReadme = readFileSync(join(kit, "README.md"), "utf8");
const work = mkdtempSync(join(tmpdir(), "sandfleet-gitops-"));
const repo = join(work, "repo");
const app = uniqueApp("gitops");
const env = {
  PULUMI_BACKEND_URL: `file://${mkdtempSync(join(work, "state-"))}`,
  PULUMI_CONFIG_PASSPHRASE: "",
  STACK: "test",
  BASE_REF: "main",
};
const git = (...args: string[]) =>
  mustRun("git", ["-c", "user.name=ci", "-c", "user.email=ci@example.com", ...args], { cwd: repo });
const job = (script: string, extra: Record<string, string> = {}) =>
  runCommand("bash", [join("ci", script)], { cwd: repo, env: { ...env, ...extra } });
const sandfleet = (...args: string[]) => runCommand("npx", ["--no-install", "sandfleet", ...args], { cwd: repo, env });
const spec = () => readFileSync(join(repo, "sandfleet.yaml"), "utf8");
const writeSpec = (text: string) => {
  writeFileSync(join(repo, "sandfleet.yaml"), text);
};
const summary = () => readFileSync(join(repo, "sandfleet-summary.md"), "utf8");
const rows = (text: string) =>
  text.split("\n").filter((line) => line.startsWith("| ") && !/^\| (resource|---)/.test(line));
/** A pull request: a branch off `from` with one commit that `edit` makes. */
async function pullRequest(branch: string, from: string, edit: () => void): Promise<void> {
  await git("checkout", "-q", "-b", branch, from);
  edit();
  await git("add", ".");
  await git("commit", "-q", "-m", branch);
}

const readmeCommands = blockUnder(kitReadme, "examples/gitops/README.md", "# GitOps with sandfleet", "of sh", (b) =>
  ["sh", "bash"].includes(b.lang),
);

beforeAll(async () => {
  const tarball = await packTarball(work);
  cpSync(kit, repo, { recursive: true });
  // What the team commits is the kit's files at the repository's root; the CI templates stay where they are.
  writeFileSync(join(repo, ".gitignore"), "node_modules/\nsandfleet-summary.md\ngl-code-quality-report.json\n");
  writeSpec(
    spec()
      .replace("app: gitops-example", `app: ${app}`)
      .replace("sandfleet/python", "sandfleet/busybox")
      .replace("memory: 256Mi", "memory: 64Mi\n      cpu: 0.5"),
  );
  await git("init", "-q", "-b", "main");
  await git("add", ".");
  await git("commit", "-q", "-m", "base");
  // `npm ci` from the committed lockfile. sandfleet is this checkout's tarball, not a published
  // version, so that one entry is pointed at it; every other entry installs as committed.
  const lockPath = join(repo, "package-lock.json");
  const committed = readFileSync(lockPath, "utf8");
  const lock = JSON.parse(committed) as { packages: Record<string, { resolved?: string }> };
  const entry = lock.packages["node_modules/sandfleet"];
  if (entry) entry.resolved = `file:${tarball}`;
  writeFileSync(lockPath, JSON.stringify(lock));
  expect(commandLines(readmeCommands)[0]).toBe("npm ci");
  await mustRun("npm", ["ci", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel", "error"], { cwd: repo });
  writeFileSync(lockPath, committed);
});

afterAll(async () => {
  await sandfleet("destroy", "--stack", "test");
  await sandfleet("destroy", "--stack", "untrusted");
  await cleanupApp(app);
  rmSync(work, { recursive: true, force: true });
});

describe("the GitOps kit", () => {
  it("installs as committed: a lockfile in step with package.json, at this version of sandfleet", () => {
    const manifest = JSON.parse(readFileSync(join(kit, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    const lock = JSON.parse(readFileSync(join(kit, "package-lock.json"), "utf8")) as {
      packages: Record<string, { version?: string; dependencies?: Record<string, string> }>;
    };
    expect(lock.packages[""]?.dependencies).toEqual(manifest.dependencies);
    const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
    expect(lock.packages["node_modules/sandfleet"]?.version).toBe(version);
    for (const [name, range] of Object.entries(manifest.dependencies)) {
      expect(semver.satisfies(lock.packages[`node_modules/${name}`]?.version ?? "", range), name).toBe(true);
    }
    expect(existsSync(join(repo, "node_modules/.bin/sandfleet"))).toBe(true);
  });

  it("deploys the base on merge, and summarises a one-field change by the README's command", async () => {
    const merged = await job("merge.sh");
    expect(merged.code, merged.stdout + merged.stderr).toBe(0);

    await pullRequest("bigger", "main", () => {
      writeSpec(spec().replace("memory: 64Mi", "memory: 96Mi"));
    });
    // The README's own line, as a reader runs it by hand.
    const byHand = commandLines(readmeCommands).slice(1);
    expect(byHand).toEqual(["BASE_REF=main bash ci/pull-request.sh"]);
    const review = await runCommand("bash", ["-euo", "pipefail", "-c", byHand.join("\n")], { cwd: repo, env });
    expect(review.code, review.stdout + review.stderr).toBe(0);
    expect(summary()).toContain("### sandfleet preview of stack `test`: 1 resource changes");
    expect(rows(summary())).toEqual([
      "| SandboxPool `python` | update in place | `template.memoryMiB`: 64 → 96 | rolls 2 unclaimed members to the new template, one at a time, keeping the ready count; no claimed members |",
    ]);

    const stepSummary = join(work, "step-summary.md");
    const github = await job("pull-request.sh", { FORMAT: "github", GITHUB_STEP_SUMMARY: stepSummary });
    expect(github.code, github.stdout + github.stderr).toBe(0);
    expect(readFileSync(stepSummary, "utf8")).toBe(summary());
  });

  it("says that a pool which grows creates sandboxes, and one which shrinks removes them", async () => {
    await pullRequest("grow", "main", () => {
      writeSpec(spec().replace("replicas: 2", "replicas: 4"));
    });
    const grow = await job("pull-request.sh", { FORMAT: "github" });
    expect(grow.code, grow.stdout + grow.stderr).toBe(0);
    expect(rows(summary())).toEqual([
      "| SandboxPool `python` | create 2 sandboxes | `replicas`: 2 → 4 | creates 2 sandboxes; no claimed members |",
    ]);
    await pullRequest("shrink", "main", () => {
      writeSpec(spec().replace("replicas: 2", "replicas: 1"));
    });
    const shrink = await job("pull-request.sh", { FORMAT: "github" });
    expect(shrink.code, shrink.stdout + shrink.stderr).toBe(0);
    expect(rows(summary())).toEqual([
      "| SandboxPool `python` | remove 1 sandbox | `replicas`: 2 → 1 | ends and removes 1 sandbox, the newest unclaimed first; no claimed members |",
    ]);
  });

  it("fails a pull request whose fleet does not fit the engine, within the policy", async () => {
    await pullRequest("too-big", "main", () => {
      writeSpec(
        spec()
          .replace("replicas: 2", "replicas: 16")
          .replace("memory: 64Mi", "memory: 4Gi")
          .replace("cpu: 0.5", "cpu: 2"),
      );
    });
    const review = await job("pull-request.sh", { FORMAT: "github" });
    expect(review.code).not.toBe(0);
    expect(review.stdout).toMatch(
      /::error file=sandfleet\.yaml,line=\d+,col=\d+,title=sandfleet::app: the fleet does not fit the engine at .*: its 16 sandboxes at their limits need 32 cpus/,
    );
    expect(review.stdout).not.toContain("policy");
  });

  it("turns a bad spec into annotations on the diff and fails", async () => {
    await pullRequest("broken", "main", () => {
      writeSpec(spec().replace("memory: 64Mi", "memory: lots"));
    });
    const review = await job("pull-request.sh", { FORMAT: "github" });
    expect(review.code).not.toBe(0);
    const line =
      spec()
        .split("\n")
        .findIndex((l) => l.includes("memory: lots")) + 1;
    expect(review.stdout).toContain(
      `::error file=sandfleet.yaml,line=${String(line)},col=15,title=sandfleet::pools.python.template.memory: "lots" must be a size like 512Mi or 2Gi`,
    );
  });

  it("holds a pull request to the base branch's policy, and shows the policy it proposes in a section of its own", async () => {
    // The proposal drops the gVisor rule and tightens the size; its comment holds a fence and markup.
    await pullRequest("loosen", "main", () => {
      const policy = readFileSync(join(repo, "sandfleet.policy.yaml"), "utf8");
      writeFileSync(
        join(repo, "sandfleet.policy.yaml"),
        policy
          .replace(/ {2}- name: untrusted-under-gvisor\n.*\n.*\n\n/, "")
          .replace("memory: 4Gi", "memory: 32Mi")
          .replace("replicas: 50 }", "replicas: 50 } # ```` <!-- hidden -->"),
      );
      writeSpec(spec().replace("trust: trusted", "trust: untrusted"));
    });
    const review = await job("pull-request.sh", { FORMAT: "github" });
    expect(review.code).not.toBe(0);
    expect(review.stdout).toContain(
      "title=sandfleet policy untrusted-under-gvisor::pools.python.template: runtime must be runsc",
    );

    // The same proposal with a file the base policy takes: the summary shows the policy change after the table.
    await pullRequest("policy-only", "loosen", () => {
      writeSpec(spec().replace("trust: untrusted", "trust: trusted"));
    });
    const policyOnly = await job("pull-request.sh", { FORMAT: "github" });
    expect(policyOnly.code, policyOnly.stdout + policyOnly.stderr).toBe(0);
    const [table = "", section = ""] = summary().split("### Policy change: applies once merged");
    expect(table).toContain("### sandfleet preview of stack `test`: no changes");
    expect(section).toContain("The check above used the policy of `main`");
    const fences = section.split("\n").filter((l) => /^`{3,}/.test(l));
    // Longer than the run of four in the proposal, so nothing of it closes the block early.
    expect(fences).toEqual(["`````diff", "`````", "`````", "`````"]);
    expect(section).toContain("-  - name: untrusted-under-gvisor");
    expect(section).toContain(
      "+    max: { cpu: 2, memory: 32Mi, disk: 20Gi, pids: 1024, replicas: 50 } # ```` <!-- hidden -->",
    );
    expect(section).toMatch(/sandfleet\.yaml:\d+:\d+ .*\(policy rule "sandbox-size"\)/);
  });

  it("refuses a policy violation on merge before anything is made", async () => {
    const other = uniqueApp("gitopsbad");
    await pullRequest("untrusted", "main", () => {
      writeSpec(spec().replace(`app: ${app}`, `app: ${other}`).replace("trust: trusted", "trust: untrusted"));
    });
    const merged = await job("merge.sh", { STACK: "untrusted" });
    expect(merged.code).not.toBe(0);
    expect(merged.stdout + merged.stderr).toContain('(policy rule "untrusted-under-gvisor")');
    expect(await leftovers(other)).toEqual(NOTHING);
  });

  it("names a secret's changed variables in the summary, never their values", async () => {
    const values = { GITOPS_TOKEN: "old-token-7f3a91", GITOPS_OTHER: "other-value-c4d2e8" };
    await pullRequest("secret-base", "main", () => {
      writeSpec(
        spec()
          .replace("pools:", "secrets:\n  token:\n    values:\n      TOKEN: { env: GITOPS_TOKEN }\n\npools:")
          .replace("      pids: 128", "      pids: 128\n      secrets: [token]"),
      );
    });
    const merged = await job("merge.sh", values);
    expect(merged.code, merged.stdout + merged.stderr).toBe(0);

    await pullRequest("secret-change", "secret-base", () => {
      writeSpec(
        spec().replace(
          "TOKEN: { env: GITOPS_TOKEN }",
          "TOKEN: { env: GITOPS_TOKEN }\n      OTHER: { env: GITOPS_OTHER }",
        ),
      );
    });
    const rotated = { GITOPS_TOKEN: "new-token-2b8e55", GITOPS_OTHER: values.GITOPS_OTHER };
    const review = await job("pull-request.sh", { FORMAT: "github", BASE_REF: "secret-base", ...rotated });
    expect(review.code, review.stdout + review.stderr).toBe(0);
    const text = summary();
    for (const value of [...Object.values(values), ...Object.values(rotated)]) {
      expect(text).not.toContain(value);
      expect(review.stdout + review.stderr).not.toContain(value);
    }
    // The variable the file adds is named; TOKEN's new value changes the stack's secret as a whole.
    expect(rows(text)).toEqual([
      "| Secret `token` | update in place | `values.OTHER`: (none) → [secret] | its values reach sandboxes started from now on: the rows of the sandboxes and pools that name it say which |",
      "| SandboxPool `python` | update in place | `secretEnv`: [secret] → [secret] | rolls 2 unclaimed members to the new template, one at a time, keeping the ready count; no claimed members |",
    ]);
  });
});
