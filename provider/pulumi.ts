/**
 * `sandfleet/pulumi`: the Pulumi resources, and the program that provisions a
 * sandfleet.yaml. Loads @pulumi/pulumi, the user's own copy (a peer dependency).
 */
export { App, type AppArgs } from "./resources/app.ts";
export { Image, type ImageArgs } from "./resources/image.ts";
export { Volume, type VolumeArgs } from "./resources/volume.ts";
export { Secret, type SecretArgs } from "./resources/secret.ts";
export { Sandbox, type SandboxArgs } from "./resources/sandbox.ts";
export { SandboxPool, type SandboxPoolArgs } from "./resources/pool.ts";
export { Snapshot, type SnapshotArgs } from "./resources/snapshot.ts";
export type { ImageInput, VolumeMountInput } from "./resources/inputs.ts";
export type { ImageStep } from "./runtime/images/image-recipe.ts";
export type { ReadinessParams } from "./runtime/engine-state/readiness.ts";
export type { SandboxNetwork, SandboxRuntime } from "./runtime/sandboxes/sandbox-params.ts";
export { deploySpec, specOutputs, type DeployedSpec } from "./spec/deploy.ts";
export { sandfleetProgram } from "./spec/program.ts";
