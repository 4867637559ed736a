import type { SandboxNetwork, SandboxRuntime } from "../runtime/sandbox-params.ts";

/** A sandbox as written in sandfleet.yaml (sizes as strings like `512Mi`). */
export interface SpecSandbox {
  image: string;
  command?: string[];
  entrypoint?: string[];
  env?: Record<string, string>;
  workdir?: string;
  cpu?: number;
  memory?: string;
  pids?: number;
  user?: string;
  readOnlyRootfs?: boolean;
  network?: SandboxNetwork;
  runtime?: SandboxRuntime;
  tags?: Record<string, string>;
}

/** sandfleet.yaml, once it has passed validation. */
export interface SandfleetSpec {
  /** The file it came from, for messages. */
  file: string;
  app: string;
  dockerHost?: string;
  sandboxes: Record<string, SpecSandbox>;
}
