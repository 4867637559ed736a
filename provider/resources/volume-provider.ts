import { ownershipLabels, LABEL } from "../runtime/labels.ts";
import { ConflictError } from "../errors.ts";
import { identityProblems, volumeName } from "../runtime/names.ts";
import type { FullProvider } from "./delegate.ts";
import { withPlainErrors } from "./plain-errors.ts";
import { changedKeys, pick } from "./diff.ts";
import { engineOf, type Props, requireEngine } from "./engine.ts";

export const VOLUME_INPUT_KEYS = ["app", "name", "retainOnDelete", "dockerHost"] as const;
export const volumeProvider: FullProvider = withPlainErrors({
  async check(_olds: Props, news: Props) {
    const failures = identityProblems(news);
    if (news.retainOnDelete !== undefined && typeof news.retainOnDelete !== "boolean") {
      failures.push({ property: "retainOnDelete", reason: "must be true or false" });
    }
    return { inputs: { ...news, retainOnDelete: news.retainOnDelete ?? false }, failures };
  },

  async diff(_id: string, olds: Props, news: Props) {
    await requireEngine(news);
    const changes = changedKeys(olds, news, VOLUME_INPUT_KEYS);
    // Whether to keep the data on delete is sandfleet's decision, not Docker's: no replacement.
    const replaces = changes.filter((key) => key !== "retainOnDelete");
    return { changes: changes.length > 0, replaces, deleteBeforeReplace: true };
  },

  async create(inputs: Props) {
    const docker = engineOf(inputs);
    const app = inputs.app as string;
    const name = volumeName(app, inputs.name as string);
    const existing = await docker.volumes.inspect(name);
    // Adopting a volume sandfleet made and kept (retainOnDelete) brings its data back.
    // Only a volume of this kind, app and name is taken back; anything else of that name is not ours.
    const ours =
      existing?.labels[LABEL.managed] === "true" &&
      existing.labels[LABEL.kind] === "volume" &&
      existing.labels[LABEL.app] === app &&
      existing.labels[LABEL.name] === inputs.name;
    if (existing && !ours) {
      throw new ConflictError(
        `volume ${name} already exists and is not sandfleet's volume "${String(inputs.name)}" of app "${app}"; pick another name`,
      );
    }
    const volume =
      existing ??
      (await docker.volumes.create({
        name,
        labels: ownershipLabels(app, "volume", { [LABEL.name]: inputs.name as string }),
      }));
    return { id: volume.name, outs: { ...inputs, volumeName: volume.name } };
  },

  async read(id: string, props: Props) {
    const docker = engineOf(props);
    const volume = await docker.volumes.inspect(id);
    if (!volume) return {};
    return { id, props: { ...props, volumeName: volume.name }, inputs: pick(props, VOLUME_INPUT_KEYS) };
  },

  async update(_id: string, _olds: Props, news: Props) {
    return { outs: { ...news, volumeName: _id } };
  },

  async delete(id: string, props: Props) {
    if (props.retainOnDelete === true) return;
    await engineOf(props).volumes.remove(id);
  },
});
