import { Sandfleet } from "../index.ts";

let shared: Sandfleet | undefined;

/** The one client a CLI run uses: the cluster SANDFLEET_KUBERNETES names, else the engine in DOCKER_HOST, else the local socket. */
export function client(): Sandfleet {
  shared ??= new Sandfleet();
  return shared;
}
