import { engineCall, engineLookup } from "./errors.ts";
import { labelFilters } from "./containers.ts";
import type { EngineHttp } from "./http.ts";
import type { RawVolume } from "./raw.ts";
import { mapOf } from "./values.ts";
import type { RecordClient, VolumeClient, VolumeInfo } from "../port.ts";

function fromRaw(raw: RawVolume): VolumeInfo {
  return { name: raw.Name, labels: mapOf(raw.Labels), mountpoint: raw.Mountpoint };
}

export function volumeClient(docker: EngineHttp): VolumeClient {
  const path = (name: string) => `/volumes/${encodeURIComponent(name)}`;
  return {
    async create(spec) {
      const raw = await engineCall(`create volume ${spec.name}`, () =>
        docker.json<RawVolume>("POST", "/volumes/create", { body: { Name: spec.name, Labels: { ...spec.labels } } }),
      );
      return fromRaw(raw);
    },
    async inspect(name) {
      const raw = await engineLookup(`inspect volume ${name}`, () => docker.json<RawVolume>("GET", path(name)));
      return raw && fromRaw(raw);
    },
    async remove(name) {
      await engineLookup(`remove volume ${name}`, () => docker.json("DELETE", path(name)));
    },
    async list(labels) {
      const found = await engineCall("list volumes", () =>
        docker.json<{ Volumes: RawVolume[] | null }>("GET", "/volumes", {
          query: { filters: JSON.stringify({ label: labelFilters(labels) }) },
        }),
      );
      return (found.Volumes ?? []).map(fromRaw);
    },
  };
}

/** Records are labelled volumes: the engine keeps them, lists them by label, and never mounts them. */
export function recordClient(volumes: VolumeClient): RecordClient {
  return {
    async create(spec) {
      await volumes.create(spec);
    },
    async inspect(name) {
      const volume = await volumes.inspect(name);
      return volume && { name: volume.name, labels: volume.labels };
    },
    remove: (name) => volumes.remove(name),
    async list(labels) {
      return (await volumes.list(labels)).map((v) => ({ name: v.name, labels: v.labels }));
    },
  };
}
