import { identityProblems } from "../runtime/engine-state/names.ts";
import { snapshotSandbox } from "../runtime/sandboxes/snapshot.ts";
import type { FullProvider } from "./delegate.ts";
import { withPlainErrors } from "./plain-errors.ts";
import { changedKeys, pick } from "./diff.ts";
import { engineOf, type Props, removeImageUnlessUsed, requireEngine } from "./engine.ts";

export const SNAPSHOT_INPUT_KEYS = ["app", "name", "sandboxId", "dockerHost", "kubernetes"] as const;
export const snapshotProvider: FullProvider = withPlainErrors({
  async check(_olds: Props, news: Props) {
    const failures = identityProblems(news);
    if (typeof news.sandboxId !== "string" || news.sandboxId === "") {
      failures.push({ property: "sandboxId", reason: "must be the id of a sandbox" });
    }
    return { inputs: news, failures };
  },

  async diff(_id: string, olds: Props, news: Props) {
    // A snapshot is of one sandbox at one time: another sandbox means another snapshot.
    await requireEngine(news);
    const changes = changedKeys(olds, news, SNAPSHOT_INPUT_KEYS);
    return { changes: changes.length > 0, replaces: changes, deleteBeforeReplace: false };
  },

  async create(inputs: Props) {
    const docker = engineOf(inputs);
    const state = await snapshotSandbox(docker, inputs.sandboxId as string, {
      app: inputs.app as string,
      name: inputs.name as string,
    });
    return { id: state.imageRef, outs: { ...inputs, imageRef: state.imageRef, imageId: state.imageId } };
  },

  async read(id: string, props: Props) {
    const image = await engineOf(props).images.inspect(id);
    if (!image) return {};
    return { id, props: { ...props, imageRef: id, imageId: image.id }, inputs: pick(props, SNAPSHOT_INPUT_KEYS) };
  },

  async update(id: string, olds: Props, news: Props) {
    return { outs: { ...news, imageRef: id, imageId: olds.imageId } };
  },

  /** Removes the snapshot's image unless a container still uses it. */
  async delete(id: string, props: Props) {
    await removeImageUnlessUsed(props, id, "snapshot");
  },
});
