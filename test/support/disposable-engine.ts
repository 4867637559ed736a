import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connectDocker } from "../../provider/engines/docker/client.ts";
import type { Engine } from "../../provider/engines/port.ts";
import { egressTables } from "../../provider/runtime/networks/egress-tables.ts";
import { deleteTable, tablesOf } from "./host-tables.ts";

/**
 * A second Docker engine that a test starts, stops, kills and restarts at
 * will: its own socket, data root, exec root, containerd and default bridge,
 * and no iptables rules, so nothing it does touches the engine the other
 * tests use. Base images are copied into it from the main engine.
 */
export class DisposableEngine {
  readonly dir: string;
  readonly host: string;
  readonly docker: Engine;
  /**
   * Its own default bridge. With `--bridge=none` dockerd would delete the
   * host's docker0, which belongs to the main engine.
   */
  readonly #bridge: string;
  readonly #settings: Record<string, unknown>;
  #daemon: ChildProcess | undefined;
  #startedBefore = false;

  private constructor(settings: Record<string, unknown> = {}) {
    // Short: a unix socket path has to fit in 108 bytes.
    this.dir = mkdtempSync("/tmp/sfe-");
    this.host = `unix://${join(this.dir, "docker.sock")}`;
    this.docker = connectDocker(this.host);
    this.#settings = settings;
    writeFileSync(join(this.dir, "daemon.json"), `${JSON.stringify(settings)}\n`);
    const suffix = randomBytes(4).toString("hex");
    this.#bridge = `sfe${suffix}`;
    execFileSync("sh", [
      "-c",
      `ip link add "$1" type bridge && ip addr add "$2" dev "$1" && ip link set "$1" up`,
      "sh",
      this.#bridge,
      `10.254.${String(parseInt(suffix.slice(0, 2), 16))}.1/24`,
    ]);
  }

  /**
   * `settings` are its daemon.json's: `default-address-pools`, say, for a test whose networks must
   * not take addresses the main engine's networks hold (an egress daemon listens on its gateway).
   */
  static async start(
    images: readonly string[] = ["sandfleet/busybox"],
    settings: Record<string, unknown> = {},
  ): Promise<DisposableEngine> {
    const engine = new DisposableEngine(settings);
    await engine.startDaemon();
    for (const image of images) {
      execFileSync("sh", ["-c", `docker save "$1" | docker -H "$2" load -q`, "sh", image, engine.host], {
        stdio: ["ignore", "ignore", "inherit"],
      });
    }
    return engine;
  }

  async startDaemon(): Promise<void> {
    // Started again on its data root with address pools of its own (and no live-restore), dockerd
    // clears its stale default bridge by deleting the host's docker0, whatever its own bridge is
    // named: the main engine's. So it starts again without them; the networks it made keep the
    // addresses they have, and networks made after a restart come from Docker's default pools.
    if (this.#startedBefore && "default-address-pools" in this.#settings) {
      const { "default-address-pools": _pools, ...rest } = this.#settings;
      writeFileSync(join(this.dir, "daemon.json"), `${JSON.stringify(rest)}\n`);
    }
    this.#startedBefore = true;
    // After a crash the pid file of its containerd names a process that is gone, or some
    // other process by now: dockerd would wait on it instead of starting its own.
    rmSync(join(this.dir, "exec", "containerd", "containerd.pid"), { force: true });
    const daemon = spawn(
      "dockerd",
      [
        `--host=${this.host}`,
        `--data-root=${join(this.dir, "data")}`,
        `--exec-root=${join(this.dir, "exec")}`,
        `--pidfile=${join(this.dir, "docker.pid")}`,
        `--config-file=${join(this.dir, "daemon.json")}`,
        `--bridge=${this.#bridge}`,
        "--iptables=false",
        "--ip6tables=false",
      ],
      { stdio: ["ignore", "ignore", "pipe"], detached: true },
    );
    let log = "";
    daemon.stderr.on("data", (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-4000);
    });
    this.#daemon = daemon;
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await this.docker.ping();
        return;
      } catch (error) {
        if (daemon.exitCode !== null || Date.now() > deadline) {
          throw new Error(`disposable dockerd did not come up: ${String(error)}\n${log}`, { cause: error });
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  /** Stops the engine as an operator or a crash would: SIGTERM (clean) or SIGKILL. */
  async stopDaemon(signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
    const daemon = this.#daemon;
    if (!daemon || daemon.exitCode !== null || daemon.signalCode !== null) return;
    const exited = new Promise((resolve) => daemon.once("exit", resolve));
    daemon.kill(signal);
    await exited;
    this.#daemon = undefined;
  }

  async restartDaemon(): Promise<void> {
    await this.stopDaemon();
    await this.startDaemon();
  }

  /** The nftables tables its egress daemon keeps on this host (named by its data root, as the engine says it). */
  tables() {
    return tablesOf(this.docker).catch(() => egressTables(join(this.dir, "data")));
  }

  /**
   * Removes every container, then stops the engine and deletes its data,
   * and the tables its egress daemon left in this host's kernel (its own
   * only: the main engine's daemon keeps its own).
   */
  async dispose(): Promise<void> {
    const tables = await this.tables();
    if (this.#daemon) {
      const all = await this.docker.containers.list({}).catch(() => []);
      await Promise.all(all.map((c) => this.docker.containers.remove(c.id).catch(() => undefined)));
      // Its networks' bridges would outlive it (it runs without iptables, and nothing else removes
      // them), holding addresses that the next disposable engine, knowing nothing of them, hands out again.
      try {
        execFileSync("docker", ["-H", this.host, "network", "prune", "-f"], { stdio: "ignore" });
      } catch {
        // an engine that no longer answers: its bridges are removed with the test machine's next cleanup
      }
      await this.stopDaemon();
    }
    // Shims and mounts a killed daemon left behind go before the files.
    execFileSync("sh", [
      "-c",
      `pkill -KILL -f "$1/" ; grep -o " $1/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l`,
      "sh",
      this.dir,
    ]);
    execFileSync("ip", ["link", "del", this.#bridge]);
    await deleteTable(tables.guard);
    await deleteTable(tables.egress);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
