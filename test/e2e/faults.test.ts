import { randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LABEL } from "../../provider/runtime/engine-state/labels.ts";
import { listMembers } from "../../provider/runtime/pools/pool.ts";
import { sandfleet } from "../support/cli.ts";
import { DisposableEngine } from "../support/disposable-engine.ts";
import { until } from "../support/until.ts";
import { PulumiStack } from "../support/pulumi.ts";

const root = new URL("../../", import.meta.url).pathname;

// Each sandbox takes about two seconds to pass its probe, so that an `up` can be cut off mid-way.
const SLOW_SANDBOX = `
    image: sandfleet/busybox
    memory: 32Mi
    command: [sh, -c, "sleep 2; touch /tmp/ready; exec sleep 86400"]
    readiness: { exec: [test, -f, /tmp/ready], interval: 100ms, timeout: 1m }`;

function specFor(app: string, host: string): string {
  return `app: ${app}
dockerHost: ${host}
sandboxes:
  sa:${SLOW_SANDBOX}
  sb:${SLOW_SANDBOX}
  sc:${SLOW_SANDBOX}
pools:
  workers:
    replicas: 10
    template:${SLOW_SANDBOX.replaceAll("\n    ", "\n      ")}
`;
}

/**
 * Fault drills on a disposable engine: `pulumi up` killed, the engine stopped
 * mid-up, the engine restarted under a stack. Each ends with a plain `up` that
 * converges, and a preview with no changes.
 */
describe("converging after faults, with the real pulumi CLI", () => {
  let engine: DisposableEngine;
  let stack: PulumiStack;
  let app: string;
  let specFile: string;

  beforeEach(async () => {
    engine = await DisposableEngine.start();
    const id = randomBytes(4).toString("hex");
    app = `faults-${id}`;
    specFile = join(engine.dir, "sandfleet.yaml");
    writeFileSync(specFile, specFor(app, engine.host));
    stack = new PulumiStack(root, `faults-${id}`);
    await stack.init({ "sandfleet:file": specFile });
  });

  afterEach(async () => {
    await stack.dispose();
    await engine.dispose();
    rmSync(specFile, { force: true });
  });

  /** What the app has on the engine: running containers by role. */
  async function census() {
    const containers = await engine.docker.containers.list({ [LABEL.app]: app });
    const members = await listMembers(engine.docker, app, "workers");
    return {
      total: containers.length,
      running: containers.filter((c) => c.status === "running").length,
      named: containers
        .filter((c) => c.labels[LABEL.pool] === undefined)
        .map((c) => c.labels[LABEL.name])
        .sort(),
      warm: members.filter((m) => m.state === "warm" && m.running).length,
      pending: members.filter((m) => m.state === "pending").length,
    };
  }

  async function expectConverged() {
    expect(await census()).toEqual({
      total: 13,
      running: 13,
      named: ["sa", "sb", "sc"],
      warm: 10,
      pending: 0,
    });
    const preview = await stack.run(["preview", "--diff", "--expect-no-changes"], { allowFailure: true });
    expect(preview.code, preview.stdout + preview.stderr).toBe(0);
  }

  it("a SIGKILLed `up` leaves nothing stuck: the next `sandfleet up` converges to exactly 13", async () => {
    const up = stack.start(["up", "--yes", "--skip-preview"]);
    // Cut off while members and sandboxes are made but not yet ready.
    await until("containers on the engine", async () => (await census()).total >= 5);
    up.killTree();
    await up.exited;
    expect((await census()).running).toBeLessThan(13);

    // The front door: it finds the lock the killed run left and removes it, since its process is gone.
    const again = await sandfleet(["up", "--stack", stack.stack, "-C", root], {
      env: { PULUMI_BACKEND_URL: `file://${stack.backendDir}`, PULUMI_CONFIG_PASSPHRASE: "" },
    });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stderr).toContain("removed a stale lock");
    await expectConverged();
  });

  it("an engine stopped mid-`up` fails it and preview within seconds, naming the engine; after a restart `up` converges", async () => {
    const up = stack.start(["up", "--yes", "--skip-preview"]);
    await until("containers on the engine", async () => (await census()).total >= 5);
    const stoppedAt = Date.now();
    await engine.stopDaemon("SIGKILL");
    const result = await up.exited;
    const waitedMs = Date.now() - stoppedAt;
    expect(result.code).not.toBe(0);
    expect(waitedMs).toBeLessThan(30_000);
    const output = result.stdout + result.stderr;
    expect(output).toContain(`the Docker engine at ${engine.host} is unreachable`);
    // One message, once per failed resource: no stack trace and no doubled error names.
    expect(output).not.toMatch(/at .*\.ts:\d+:\d+/);
    expect(output).not.toMatch(/Error: [^\n]*Error: /);

    // With the engine still down, a preview fails too, instead of reporting "unchanged" from stale outputs.
    const preview = await stack.run(["preview", "--diff"], { allowFailure: true });
    expect(preview.code).not.toBe(0);
    const previewOutput = preview.stdout + preview.stderr;
    expect(previewOutput).toContain(`the Docker engine at ${engine.host} is unreachable`);
    expect(previewOutput).not.toMatch(/^\s+at .*:\d+:\d+\)?$/m);
    expect(previewOutput).not.toMatch(/Error: [^\n]*Error: /);

    await engine.startDaemon();
    const again = await stack.run(["up", "--yes", "--skip-preview"], { allowFailure: true });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    await expectConverged();
  });

  it("after an engine restart a plain `up` brings back every sandbox and pool member", async () => {
    await stack.run(["up", "--yes", "--skip-preview"]);
    await engine.restartDaemon();
    expect((await census()).running).toBe(0);
    const again = await stack.run(["up", "--yes", "--skip-preview"]);
    expect(again.stdout).toMatch(/stopped with exit code/);
    await expectConverged();
  });
  /** The front door, on this test's stack and backend. */
  function front(verb: string) {
    return sandfleet([verb, "--stack", stack.stack, "-C", root], {
      env: { PULUMI_BACKEND_URL: `file://${stack.backendDir}`, PULUMI_CONFIG_PASSPHRASE: "" },
    });
  }

  it("with the state and its backup both cut short, the printed recovery, run as printed, converges and orphans nothing", async () => {
    await stack.run(["up", "--yes", "--skip-preview"]);
    const state = join(stack.backendDir, ".pulumi", "stacks", "sandfleet", `${stack.stack}.json`);
    // A second update leaves a .bak; then both are cut short, as a killed write would leave them.
    await stack.run(["up", "--yes", "--skip-preview"]);
    for (const file of [state, `${state}.bak`]) truncateSync(file, Math.floor(statSync(file).size / 2));

    const refused = await front("up");
    expect(refused.code).not.toBe(0);
    const recovery = refused.stderr
      .split("\n")
      .filter((line) => line.startsWith("sandfleet:   ") || line.startsWith("  "))
      .map((line) => line.replace(/^sandfleet: {3}|^ {2}/, ""));
    expect(recovery, refused.stderr).toHaveLength(1);
    execFileSync("sh", ["-c", recovery[0] as string]);

    const refreshed = await front("refresh");
    expect(refreshed.code, refreshed.stdout + refreshed.stderr).toBe(0);
    const again = await front("up");
    expect(again.code, again.stdout + again.stderr).toBe(0);
    await expectConverged();

    const destroyed = await front("destroy");
    expect(destroyed.code, destroyed.stdout + destroyed.stderr).toBe(0);
    expect(await engine.docker.containers.list({ [LABEL.app]: app })).toEqual([]);
    expect(await engine.docker.networks.list({ [LABEL.app]: app })).toEqual([]);
    expect(await engine.docker.volumes.list({ [LABEL.app]: app })).toEqual([]);
  });

  it("after a SIGKILLed `destroy`, the operations it left pending are redone once and not reported again", async () => {
    await stack.run(["up", "--yes", "--skip-preview"]);
    const destroy = stack.start(["destroy", "--yes", "--skip-preview"]);
    await until("the destroy under way", async () => (await census()).total < 13, 60_000);
    destroy.killTree();
    await destroy.exited;

    const first = await front("up");
    expect(first.code, first.stdout + first.stderr).toBe(0);
    await expectConverged();
    const second = await front("up");
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(second.stderr).not.toContain("interrupted");
    const destroyed = await front("destroy");
    expect(destroyed.code, destroyed.stdout + destroyed.stderr).toBe(0);
    expect(destroyed.stderr).not.toContain("interrupted");
    expect(await engine.docker.containers.list({ [LABEL.app]: app })).toEqual([]);
  });
});
