/**
 * `sandfleet`: the runtime client and its errors. Nothing here loads
 * @pulumi/pulumi, so an agent that only claims and execs pays for none of it;
 * the resources are in `sandfleet/pulumi`.
 */
export { Sandfleet, type AgentOptions, type SandfleetParams } from "./client/sandfleet.ts";
export { Sandboxes } from "./client/sandboxes.ts";
export type { ListParams } from "./runtime/client-context.ts";
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
  NotADirectoryError,
  AlreadyExistsError,
  DirectoryNotEmptyError,
} from "./errors.ts";
export { ImageBuildError } from "./engines/docker/images.ts";
export { Sandbox, type ConnectParams, type RunParams, type SandboxMetrics, type Tunnel } from "./runtime/sandbox.ts";
export { SandboxProcess, type ExecEndReason, type ExecParams } from "./runtime/process.ts";
export { KILLED_EXIT_CODE, type WindowSize } from "./runtime/command.ts";
export { TIMEOUT_EXIT_CODE } from "./runtime/lifetime.ts";
export type { PauseResult } from "./runtime/pause.ts";
export type { SupervisorActivity } from "./runtime/supervisor/activity.ts";
export { serveMetrics } from "./serve/metrics.ts";
export { serveDashboard, type DashboardOptions } from "./serve/dashboard.ts";
export { serveGateway, type GatewayOptions } from "./serve/gateway.ts";
export type { ConnectToken } from "./runtime/connect-tokens.ts";
export { AgentMetrics } from "./runtime/metrics.ts";
export type { Webhook } from "./runtime/webhooks.ts";
export { webhookRetentionProblem, type DeliveryOptions, type DropReason } from "./runtime/webhook-delivery.ts";
export type { EndedReason, SandboxEvent, SandboxEventKind, WatchEventsParams } from "./runtime/events.ts";
export { SandboxFiles, SandboxFile, READ_LIMIT_BYTES, type FileData, type OpenMode } from "./runtime/files.ts";
export type { FileEntry, FileEvent, FileStat } from "./runtime/file-ops.ts";
export { Agent } from "./runtime/agent.ts";
export type { AgentEvent } from "./runtime/agent-event.ts";
export type { Garbage } from "./runtime/gc.ts";
export type { ClaimParams } from "./runtime/pool.ts";
export type { ImageState } from "./runtime/image-build.ts";
export type { ImageParams, ImageStep } from "./runtime/image-recipe.ts";
export type { ReadinessParams } from "./runtime/readiness.ts";
export type { SnapshotState } from "./runtime/snapshot.ts";
export type { SandboxParams, SandboxNetwork, SandboxRuntime } from "./runtime/sandbox-params.ts";
export type { SandboxState, SandboxSummary } from "./runtime/sandbox-ops.ts";
export type { ExecResult, ImageSummary, VolumeInfo } from "./engines/port.ts";
export { parseDuration } from "./spec/units.ts";
export { leaderElection, type LeaderChange, type Leadership, type LeaseStore } from "./runtime/leader-election.ts";
export { kubernetesFromEnvironment } from "./engines/connect.ts";
export {
  agentManifests,
  AGENT_LABELS,
  AGENT_METRICS_PORT,
  AGENT_LEASE_ROLE,
  AGENT_METRICS_SERVICE,
  AGENT_NAME,
  AGENT_SCRAPER_LABEL,
  type AgentManifestOptions,
  type KubeObject,
} from "./engines/kubernetes/agent-manifests.ts";
export { kubernetesLeaseStore, podGone } from "./engines/kubernetes/lease.ts";
export { markHostGone } from "./runtime/maker.ts";
export { applyAgentManifests, deleteAgentManifests } from "./engines/kubernetes/agent-apply.ts";
