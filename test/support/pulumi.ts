import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface PulumiResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * A stack of a real project directory on a throwaway local file backend,
 * driven through the real `pulumi` binary.
 */
export class PulumiStack {
  readonly backendDir = mkdtempSync(join(tmpdir(), "sandfleet-e2e-state-"));
  readonly projectDir: string;
  readonly stack: string;

  constructor(projectDir: string, stack: string) {
    this.projectDir = projectDir;
    this.stack = stack;
  }

  /**
   * Starts a pulumi command in a process group of its own, so that a test can
   * kill it as a crash would: the CLI, its language host and its providers.
   */
  start(args: string[]): { exited: Promise<PulumiResult>; killTree(): void } {
    const child = spawn("pulumi", [...args, "--stack", this.stack, "--non-interactive", "--color", "never"], {
      cwd: this.projectDir,
      env: {
        ...process.env,
        PULUMI_BACKEND_URL: `file://${this.backendDir}`,
        PULUMI_CONFIG_PASSPHRASE: "",
        PULUMI_SKIP_UPDATE_CHECK: "true",
      },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<PulumiResult>((resolve, reject) => {
      child.on("error", reject);
      child.on("close", (code, signal) => {
        resolve({ code: code ?? (signal ? 128 + 9 : -1), stdout, stderr });
      });
    });
    return {
      exited,
      killTree() {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      },
    };
  }

  async run(args: string[], options: { allowFailure?: boolean } = {}): Promise<PulumiResult> {
    const result = await this.start(args).exited;
    if (result.code !== 0 && !options.allowFailure) {
      throw new Error(`pulumi ${args.join(" ")} exited ${String(result.code)}\n${result.stdout}\n${result.stderr}`);
    }
    return result;
  }

  async init(config: Record<string, string> = {}): Promise<void> {
    await this.run(["stack", "init"]);
    for (const [key, value] of Object.entries(config)) await this.run(["config", "set", key, value]);
  }

  async outputs(): Promise<Record<string, unknown>> {
    return JSON.parse((await this.run(["stack", "output", "--json"])).stdout) as Record<string, unknown>;
  }

  async resourceNames(type: string): Promise<string[]> {
    const state = JSON.parse((await this.run(["stack", "export"])).stdout) as {
      deployment: { resources?: { type: string; urn: string }[] };
    };
    return (state.deployment.resources ?? []).filter((r) => r.type === type).map((r) => r.urn.split("::").pop() ?? "");
  }

  /** Destroys whatever is left and removes the stack and its config file. */
  async dispose(): Promise<void> {
    await this.run(["destroy", "--yes", "--skip-preview"], { allowFailure: true });
    await this.run(["stack", "rm", "--yes", "--force"], { allowFailure: true });
    rmSync(this.backendDir, { recursive: true, force: true });
  }
}
