import { ConflictError } from "../../errors.ts";
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
    async createIfAbsent(spec) {
      // The engine makes a volume of a name once and answers every later
      // create with the volume it made, labels and all: the labels tell whose it is.
      try {
        const made = await volumes.create(spec);
        return sameLabels(made.labels, spec.labels);
      } catch (error) {
        if (error instanceof ConflictError) return false;
        throw error;
      }
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

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(b);
  return keys.length === Object.keys(a).length && keys.every((k) => a[k] === b[k]);
}
