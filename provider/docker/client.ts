import { type ContainerClient, containerClient } from "./containers.ts";
import { engineAddress } from "./connect.ts";
import { engineCall, namingEngine } from "./errors.ts";
import { type EventClient, eventClient } from "./events.ts";
import { type ExecClient, execClient } from "./exec.ts";
import { engineHttp } from "./http.ts";
import { type ImageClient, imageClient } from "./images.ts";
import { type NetworkClient, networkClient } from "./networks.ts";
import type { EngineInfo } from "./types.ts";
import { type VolumeClient, volumeClient } from "./volumes.ts";

interface RawInfo {
  Driver?: string;
  DriverStatus?: [string, string][] | null;
  NCPU?: number;
  Architecture?: string;
  OSType?: string;
  MemTotal?: number;
}

/**
 * The engine, as sandfleet sees it: narrow clients per kind of object. The
 * runtime and the resources depend on this interface only, so a unit test can
 * hand them a fake.
 */
export interface DockerClient {
  readonly host: string;
  readonly containers: ContainerClient;
  readonly images: ImageClient;
  readonly networks: NetworkClient;
  readonly volumes: VolumeClient;
  readonly events: EventClient;
  readonly exec: ExecClient;
  /** Resolves when the engine answers; throws EngineUnavailableError when it does not. */
  ping(): Promise<void>;
  /** The engine's storage, asked once per client. */
  info(): Promise<EngineInfo>;
}

/**
 * Connects to the engine at `host` (DOCKER_HOST forms), else DOCKER_HOST,
 * else the local socket. Cheap: nothing is sent until the first call.
 */
export function connectDocker(host?: string): DockerClient {
  const docker = engineHttp(engineAddress(host));
  const name = host ?? process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
  let info: Promise<EngineInfo> | undefined;
  const engine = namingEngine(
    {
      info() {
        info ??= engineCall("ask the Docker engine about itself", () =>
          Promise.all([docker.json<RawInfo>("GET", "/info"), docker.json<{ ApiVersion?: string }>("GET", "/version")]),
        )
          .then(([raw, version]) => ({
            apiVersion: version.ApiVersion ?? "",
            storageDriver: raw.Driver ?? "",
            backingFilesystem: (raw.DriverStatus ?? []).find(([key]) => key === "Backing Filesystem")?.[1] ?? "",
            cpus: raw.NCPU ?? 0,
            architecture: raw.Architecture ?? "",
            os: raw.OSType ?? "",
            memoryBytes: raw.MemTotal ?? 0,
          }))
          .catch((error: unknown) => {
            info = undefined; // asked again next time: the engine may be back
            throw error;
          });
        return info;
      },
      async ping() {
        await engineCall("ping Docker engine", () => docker.json("GET", "/_ping"));
      },
    },
    name,
  );
  const containers = containerClient(docker);
  return {
    host: name,
    containers: namingEngine(containers, name),
    images: namingEngine(imageClient(docker), name),
    networks: namingEngine(networkClient(docker), name),
    volumes: namingEngine(volumeClient(docker), name),
    events: namingEngine(eventClient(docker), name),
    exec: namingEngine(execClient(docker, containers), name),
    ...engine,
  };
}
