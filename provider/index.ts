// The public API of the `sandfleet` package.
export {
  CommandExitError,
  ConflictError,
  EngineError,
  EngineUnavailableError,
  InvalidArgumentError,
  NotFoundError,
  SandfleetError,
  TimeoutError,
} from "./errors.ts";
export { Sandbox, type ConnectParams, type ExecParams } from "./runtime/sandbox.ts";
export type { SandboxParams, SandboxNetwork, SandboxRuntime } from "./runtime/sandbox-params.ts";
export type { SandboxState } from "./runtime/sandbox-ops.ts";
export type { ExecResult } from "./docker/types.ts";
export { App, type AppArgs } from "./resources/app.ts";
export { Sandbox as SandboxResource, type SandboxArgs } from "./resources/sandbox.ts";
export { loadSpec, loadSpecFile, type LoadResult } from "./spec/load.ts";
export { formatIssue, SpecError, type SpecIssue } from "./spec/issues.ts";
export type { SandfleetSpec, SpecSandbox } from "./spec/types.ts";
export { deploySpec, type DeployedSpec } from "./spec/deploy.ts";
