import { ConflictError, SandfleetError } from "../../errors.ts";
import type { EngineHttp } from "./http.ts";
import { holdsArchive, writeArchive } from "./volume-contents.ts";
import type { ContainerClient, ImageClient, SupervisorClient, VolumeClient, VolumeMount } from "../port.ts";

/**
 * On Docker a supervisor version lives in a volume named by its version, so a
 * new version never changes the volume running sandboxes have mounted. A
 * filler container of the same name made it: the engine copies an image's
 * files into an empty volume while it creates a container that mounts it.
 */
export function supervisorClient(
  docker: EngineHttp,
  containers: ContainerClient,
  images: ImageClient,
  volumes: VolumeClient,
): SupervisorClient {
  const volumeOf = (version: string) => `sandfleet-supervisor-${version}`;
  const imageOf = (version: string) => `sandfleet-supervisor:${version}`;
  return {
    async place({ version, labels, archive, binaryPath }) {
      const volume = volumeOf(version);
      const dir = binaryPath.slice(0, binaryPath.lastIndexOf("/"));
      if (await containers.inspect(volume)) {
        // Placed before: but a binary removed from the volume, or damaged there, would fail every
        // sandbox that starts from it. Checked once per process, and written again when it differs.
        if (await holdsArchive(docker, volume, dir, await archive())) return;
        await writeArchive(docker, volume, dir, await archive());
        if (!(await holdsArchive(docker, volume, dir, await archive()))) {
          throw new SandfleetError(`the supervisor's volume ${volume} is damaged and could not be written again`);
        }
        return;
      }
      if (!(await images.inspect(imageOf(version)))) {
        await images.importArchive(await archive(), {
          repo: "sandfleet-supervisor",
          tag: version,
          labels,
          env: [],
          cmd: [binaryPath, "version"],
          entrypoint: undefined,
          user: "",
          workdir: "",
        });
      }
      await volumes.create({ name: volume, labels });
      try {
        await containers.create({
          name: volume,
          image: imageOf(version),
          env: {},
          labels,
          nanoCpus: 0,
          memoryBytes: 0,
          pidsLimit: 1,
          readOnlyRootfs: true,
          networkMode: "none",
          capDrop: ["ALL"],
          securityOpt: ["no-new-privileges"],
          runtime: "runc",
          init: false,
          mounts: [{ volume, target: dir, readOnly: false }],
        });
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
        // Another process is placing the same version; its create finishes the copy.
        for (let waited = 0; !(await containers.inspect(volume)); waited += 50) {
          if (waited > 30_000) throw new SandfleetError(`the supervisor's volume ${volume} was never filled`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    },
    async list(labels) {
      return (await volumes.list(labels)).map((v) => v.name.slice(volumeOf("").length));
    },
    async remove(version) {
      const volume = volumeOf(version);
      await containers.remove(volume);
      try {
        await volumes.remove(volume);
      } catch (error) {
        if (error instanceof ConflictError) return false; // a container of another kind still has it mounted
        throw error;
      }
      await images.remove(imageOf(version));
      return true;
    },
  };
}

/** The mount that puts a placed supervisor at `dir` in a sandbox, read-only. */
export function supervisorMount(version: string, dir: string): VolumeMount {
  return { volume: `sandfleet-supervisor-${version}`, target: dir, readOnly: true };
}
