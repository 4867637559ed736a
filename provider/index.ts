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
export { Sandbox, type ConnectParams, type ListParams, type RunParams, type Tunnel } from "./runtime/sandbox.ts";
export { SandboxProcess, TIMEOUT_EXIT_CODE, type ExecEndReason, type ExecParams } from "./runtime/process.ts";
export { SandboxFiles, type FileEntry } from "./runtime/files.ts";
export type { SnapshotState } from "./runtime/snapshot.ts";
export type { SandboxParams, SandboxNetwork, SandboxRuntime } from "./runtime/sandbox-params.ts";
export type { SandboxState } from "./runtime/sandbox-ops.ts";
export type { ExecResult } from "./docker/types.ts";
export { App, type AppArgs } from "./resources/app.ts";
export {
  Sandbox as SandboxResource,
  type SandboxArgs,
  type ImageInput,
  type VolumeMountInput,
} from "./resources/sandbox.ts";
export { Image, type ImageArgs } from "./resources/image.ts";
export { Volume, type VolumeArgs } from "./resources/volume.ts";
export { Secret, type SecretArgs } from "./resources/secret.ts";
export { Snapshot, type SnapshotArgs } from "./resources/snapshot.ts";
export type { ImageStep } from "./runtime/image-recipe.ts";
export type { ReadinessParams } from "./runtime/readiness.ts";
export { loadSpec, loadSpecFile, type LoadResult } from "./spec/load.ts";
export { formatIssue, SpecError, type SpecIssue } from "./spec/issues.ts";
export type { SandfleetSpec, SpecSandbox } from "./spec/types.ts";
export { deploySpec, type DeployedSpec } from "./spec/deploy.ts";
