import { connectDocker, type DockerClient } from "../docker/client.ts";
import { engineLog } from "./engine-log.ts";

/** The properties the engine hands a dynamic provider: inputs, or inputs and outputs. */
export type Props = Record<string, unknown>;

/** The Docker engine a resource lives on: its `dockerHost`, else the default one. */
export function engineOf(props: { dockerHost?: unknown }): DockerClient {
  return connectDocker(typeof props.dockerHost === "string" ? props.dockerHost : undefined);
}

/** Removes one image reference; an image a container still uses is kept, and the log says so. */
export async function removeImageUnlessUsed(props: Props, ref: string, what: string): Promise<void> {
  if ((await engineOf(props).images.remove(ref)) === "in-use") {
    engineLog("")(`${what} ${ref} is still used by a container, so it stays`);
  }
}
