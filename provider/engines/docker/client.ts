import { CRIU_LABEL, DOCKER_EXEC_USER, dockerCapabilities } from "./capabilities.ts";
import { containerClient } from "./containers.ts";
import { engineAddress } from "./connect.ts";
import { engineCall, namingEngine } from "./errors.ts";
import { eventClient } from "./events.ts";
import { execClient } from "./exec.ts";
import { engineHttp } from "./http.ts";
import { imageClient } from "./images.ts";
import { networkClient } from "./networks.ts";
import type { Engine, EngineInfo } from "../port.ts";
import { supervisorClient } from "./supervisor.ts";
import { recordClient, volumeClient } from "./volumes.ts";

interface RawInfo {
  Driver?: string;
  DriverStatus?: [string, string][] | null;
  NCPU?: number;
  Architecture?: string;
  OSType?: string;
  MemTotal?: number;
  ExperimentalBuild?: boolean;
  DockerRootDir?: string;
  Labels?: string[] | null;
}

/** The value of one of the engine's own labels (`key=value`, from its configuration). */
function engineLabel(labels: readonly string[], key: string): string | undefined {
  const found = labels.find((label) => label.startsWith(`${key}=`));
  return found === undefined ? undefined : found.slice(key.length + 1);
}

/**
 * Connects to the engine at `host` (DOCKER_HOST forms), else DOCKER_HOST,
 * else the local socket. Cheap: nothing is sent until the first call.
 */
export function connectDocker(host?: string): Engine {
  const address = engineAddress(host);
  const docker = engineHttp(address);
  const name = host ?? process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
  let info: Promise<EngineInfo> | undefined;
  const engine = namingEngine(
    {
      info() {
        info ??= engineCall("ask the Docker engine about itself", () =>
          Promise.all([docker.json<RawInfo>("GET", "/info"), docker.json<{ ApiVersion?: string }>("GET", "/version")]),
        )
          .then(([raw, version]) => {
            const facts = {
              host: name,
              apiVersion: version.ApiVersion ?? "",
              storageDriver: raw.Driver ?? "",
              backingFilesystem: (raw.DriverStatus ?? []).find(([key]) => key === "Backing Filesystem")?.[1] ?? "",
              experimental: raw.ExperimentalBuild === true,
              criu: engineLabel(raw.Labels ?? [], CRIU_LABEL),
              local: address.kind === "unix",
            };
            return {
              kind: "docker",
              capabilities: dockerCapabilities(facts),
              apiVersion: facts.apiVersion,
              storageDriver: facts.storageDriver,
              backingFilesystem: facts.backingFilesystem,
              cpus: raw.NCPU ?? 0,
              architecture: raw.Architecture ?? "",
              os: raw.OSType ?? "",
              memoryBytes: raw.MemTotal ?? 0,
              ...(raw.DockerRootDir ? { dataRoot: raw.DockerRootDir } : {}),
            };
          })
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
  const volumes = volumeClient(docker);
  const images = imageClient(docker);
  return {
    host: name,
    containers: namingEngine(containers, name),
    images: namingEngine(images, name),
    networks: namingEngine(networkClient(docker), name),
    volumes: namingEngine(volumes, name),
    records: namingEngine(recordClient(volumes), name),
    supervisors: namingEngine(supervisorClient(docker, containers, images, volumes), name),
    events: namingEngine(eventClient(docker), name),
    exec: namingEngine(execClient(docker, containers), name),
    execUser: DOCKER_EXEC_USER,
    ...engine,
  };
}
