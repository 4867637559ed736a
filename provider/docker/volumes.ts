import type Docker from "dockerode";
import { engineCall, engineLookup } from "./errors.ts";
import { labelFilters } from "./containers.ts";
import type { Labels, VolumeInfo, VolumeSpec } from "./types.ts";

export interface VolumeClient {
  create(spec: VolumeSpec): Promise<VolumeInfo>;
  inspect(name: string): Promise<VolumeInfo | undefined>;
  /** Removes the volume and its data; absent is fine. */
  remove(name: string): Promise<void>;
  list(labels: Labels): Promise<VolumeInfo[]>;
}

interface RawVolume {
  Name: string;
  Labels: Record<string, string> | null;
  Mountpoint: string;
}

function fromRaw(raw: RawVolume): VolumeInfo {
  return { name: raw.Name, labels: raw.Labels ?? {}, mountpoint: raw.Mountpoint };
}

export function volumeClient(docker: Docker): VolumeClient {
  return {
    async create(spec) {
      await engineCall(`create volume ${spec.name}`, () =>
        docker.createVolume({ Name: spec.name, Labels: { ...spec.labels } }),
      );
      const raw = await engineCall<RawVolume>(`inspect volume ${spec.name}`, () =>
        docker.getVolume(spec.name).inspect(),
      );
      return fromRaw(raw);
    },
    async inspect(name) {
      const raw = await engineLookup<RawVolume>(`inspect volume ${name}`, () => docker.getVolume(name).inspect());
      return raw && fromRaw(raw);
    },
    async remove(name) {
      await engineLookup(`remove volume ${name}`, () => docker.getVolume(name).remove());
    },
    async list(labels) {
      const found = await engineCall<{ Volumes: RawVolume[] | null }>("list volumes", () =>
        docker.listVolumes({ filters: { label: labelFilters(labels) } }),
      );
      return (found.Volumes ?? []).map(fromRaw);
    },
  };
}
