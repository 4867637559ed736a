import { ensureVolume } from "../runtime/networks/apps.ts";
import { identityProblems } from "../runtime/engine-state/names.ts";
import type { FullProvider } from "./delegate.ts";
import { withPlainErrors } from "./plain-errors.ts";
import { booleanProblem } from "../rules.ts";
import { changedKeys, pick } from "./diff.ts";
import { engineOf, type Props, requireEngine } from "./engine.ts";

export const VOLUME_INPUT_KEYS = ["app", "name", "retainOnDelete", "dockerHost", "kubernetes"] as const;
export const volumeProvider: FullProvider = withPlainErrors({
  async check(_olds: Props, news: Props) {
    const failures = identityProblems(news);
    const retain = news.retainOnDelete === undefined ? undefined : booleanProblem(news.retainOnDelete);
    if (retain) failures.push({ property: "retainOnDelete", reason: retain });
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
    // Adopting a volume sandfleet made and kept (retainOnDelete) brings its data back.
    const volume = await ensureVolume(docker, inputs.app as string, inputs.name as string, { createIfMissing: true });
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
