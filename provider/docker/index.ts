export { connectDocker, type DockerClient } from "./client.ts";
export type { ContainerClient } from "./containers.ts";
export type { ExecClient, ExecProcess } from "./exec.ts";
export type { ImageClient } from "./images.ts";
export type { NetworkClient } from "./networks.ts";
export type * from "./types.ts";
