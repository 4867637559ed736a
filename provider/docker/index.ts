export { connectDocker, type DockerClient } from "./client.ts";
export type { ContainerClient } from "./containers.ts";
export type { ExecClient, ExecProcess } from "./exec.ts";
export { ImageBuildError, type ImageClient, type ImageCommitSpec } from "./images.ts";
export type { VolumeClient } from "./volumes.ts";
export type { NetworkClient } from "./networks.ts";
export type * from "./types.ts";
