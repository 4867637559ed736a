/**
 * `sandfleet`: the runtime client and its errors. Nothing here loads
 * @pulumi/pulumi, so an agent that only claims and execs pays for none of it;
 * the resources are in `sandfleet/pulumi`.
 */
export { Sandfleet, type AgentOptions, type SandfleetParams } from "./client/sandfleet.ts";
export { Sandboxes } from "./client/sandboxes.ts";
export type { ListParams } from "./client/client-context.ts";
export { Pools, SandboxPool, type PoolStatus } from "./client/pools.ts";
export { Apps, AppVolume, Images, Volumes } from "./client/stored.ts";
export {
  CommandExitError,
  ConflictError,
  EngineError,
  EngineUnavailableError,
  InvalidArgumentError,
  NotFoundError,
  PoolExhaustedError,
  SandboxLostError,
  SandfleetError,
  TimeoutError,
  IsADirectoryError,
  FileTooLargeError,
  ImageBuildError,
  NotADirectoryError,
  AlreadyExistsError,
  DirectoryNotEmptyError,
} from "./errors.ts";
export { Sandbox, type ConnectParams, type RunParams, type SandboxMetrics, type Tunnel } from "./client/sandbox.ts";
export { SandboxProcess, type ExecEndReason, type ExecParams } from "./runtime/commands/process.ts";
export { KILLED_EXIT_CODE, type WindowSize } from "./runtime/supervisor/command-contract.ts";
export { TIMEOUT_EXIT_CODE } from "./runtime/sandboxes/lifetime.ts";
export type { PauseResult } from "./runtime/sandboxes/pause.ts";
export type { SupervisorActivity } from "./runtime/supervisor/activity.ts";
export { serveMetrics } from "./serve/metrics.ts";
export { serveDashboard, type DashboardOptions } from "./serve/dashboard.ts";
export { serveGateway, type GatewayOptions } from "./serve/gateway.ts";
export type { ConnectToken } from "./runtime/sandboxes/connect-tokens.ts";
export { AgentMetrics } from "./runtime/observability/metrics.ts";
export type { Webhook } from "./runtime/observability/webhooks.ts";
export {
  webhookRetentionProblem,
  type DeliveryOptions,
  type DropReason,
} from "./runtime/observability/webhook-delivery.ts";
export type { EndedReason, SandboxEvent, SandboxEventKind, WatchEventsParams } from "./runtime/observability/events.ts";
export { SandboxFiles, SandboxFile, READ_LIMIT_BYTES, type FileData, type OpenMode } from "./runtime/commands/files.ts";
export type { FileEntry, FileEvent, FileStat } from "./runtime/supervisor/file-ops.ts";
export { Agent } from "./runtime/agent/agent.ts";
export type { AgentEvent } from "./runtime/observability/agent-event.ts";
export type { Garbage } from "./runtime/agent/gc.ts";
export type { ClaimParams } from "./runtime/pools/pool.ts";
export type { ImageState } from "./runtime/images/image-build.ts";
export type { ImageParams, ImageStep } from "./runtime/images/image-recipe.ts";
export type { ReadinessParams } from "./runtime/engine-state/readiness.ts";
export type { SnapshotState } from "./runtime/sandboxes/snapshot.ts";
export type { SandboxParams, SandboxNetwork, SandboxRuntime } from "./runtime/sandboxes/sandbox-params.ts";
export type { SandboxState, SandboxSummary } from "./runtime/sandboxes/sandbox-ops.ts";
export type { ExecResult, ImageSummary, VolumeInfo } from "./engines/port.ts";
export { parseDuration } from "./spec/units.ts";
export {
  leaderElection,
  type LeaderChange,
  type Leadership,
  type LeaseStore,
} from "./runtime/agent/leader-election.ts";
export { kubernetesFromEnvironment } from "./engines/connect.ts";
export { markHostGone } from "./runtime/local/maker.ts";
export * from "./engines/cluster-agent.ts";
