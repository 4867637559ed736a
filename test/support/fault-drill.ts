import type { Engine } from "../../provider/engines/port.ts";
import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, expect } from "vitest";
import { LABEL } from "../../provider/runtime/engine-state/labels.ts";
import { listMembers } from "../../provider/runtime/pools/pool.ts";
import { sandfleet } from "./cli.ts";
import { DisposableEngine } from "./disposable-engine.ts";
import { PulumiStack } from "./pulumi.ts";

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
 * A stack of three sandboxes and a pool of ten on a disposable engine of its own, made before
 * each test of the calling file and removed after it: the fault drills (test/e2e/faults*.test.ts)
 * kill `pulumi`, stop the engine or cut the state short under it. The drills are split over
 * files so that they run side by side, each file on engines of its own.
 */
export class FaultDrill {
  readonly engine: DisposableEngine;
  readonly stack: PulumiStack;
  readonly app: string;
  readonly #specFile: string;

  private constructor(engine: DisposableEngine) {
    const id = randomBytes(4).toString("hex");
    this.engine = engine;
    this.app = `faults-${id}`;
    this.#specFile = join(engine.dir, "sandfleet.yaml");
    writeFileSync(this.#specFile, specFor(this.app, engine.host));
    this.stack = new PulumiStack(root, `faults-${id}`);
  }

  /** Registers the hooks that give each test of the file a drill of its own; read `current` in a test. */
  static perTest(): { readonly current: FaultDrill } {
    let drill: FaultDrill | undefined;
    beforeEach(async () => {
      drill = new FaultDrill(await DisposableEngine.start());
      await drill.stack.init({ "sandfleet:file": drill.#specFile });
    });
    afterEach(async () => {
      await drill?.dispose();
      drill = undefined;
    });
    return {
      get current() {
        if (!drill) throw new Error("no fault drill outside a test");
        return drill;
      },
    };
  }

  /** What the app has on the engine: running containers by role. */
  census() {
    return appCensus(this.engine.docker, this.app);
  }

  async expectConverged() {
    expect(await this.census()).toEqual({
      total: 13,
      running: 13,
      named: ["sa", "sb", "sc"],
      warm: 10,
      pending: 0,
    });
    const preview = await this.stack.run(["preview", "--diff", "--expect-no-changes"], { allowFailure: true });
    expect(preview.code, preview.stdout + preview.stderr).toBe(0);
  }

  /** The front door, on this drill's stack and backend. */
  front(verb: string) {
    return sandfleet([verb, "--stack", this.stack.stack, "-C", root], {
      env: { PULUMI_BACKEND_URL: `file://${this.stack.backendDir}`, PULUMI_CONFIG_PASSPHRASE: "" },
    });
  }

  async dispose(): Promise<void> {
    await this.stack.dispose();
    await this.engine.dispose();
    rmSync(this.#specFile, { force: true });
  }
}

/** What an app has on an engine (Docker or Kubernetes): its sandboxes by role, and its pool's members by state. */
export async function appCensus(engine: Engine, app: string, pool = "workers") {
  const containers = await engine.containers.list({ [LABEL.app]: app });
  const members = await listMembers(engine, app, pool);
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
