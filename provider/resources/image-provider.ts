import { ensureImage, imageContentHash } from "../runtime/images/image-build.ts";
import { imageMode, imageParamsProblems, type ImageParams } from "../runtime/images/image-recipe.ts";
import type { FullProvider } from "./delegate.ts";
import { withPlainErrors } from "./plain-errors.ts";
import { changedKeys, pick } from "./diff.ts";
import { engineLog } from "./engine-log.ts";
import { engineOf, type Props, removeImageUnlessUsed, requireEngine } from "./engine.ts";

export const IMAGE_INPUT_KEYS = [
  "app",
  "name",
  "ref",
  "base",
  "steps",
  "dockerfile",
  "network",
  "sourceDir",
  "dockerHost",
  "kubernetes",
  "contentHash",
] as const;

/**
 * What decides whether an image is the same: its identity and the hash of its
 * recipe. The steps themselves are shown in previews, but a moved checkout
 * (another sourceDir) with the same files is the same image.
 */
const IDENTITY_KEYS = ["app", "name", "ref", "contentHash", "dockerHost", "kubernetes"] as const;

export const imageProvider: FullProvider = withPlainErrors({
  async check(_olds: Props, news: Props) {
    const failures = imageParamsProblems(news);
    if (failures.length > 0) return { inputs: news, failures };
    const params = news as unknown as ImageParams;
    try {
      const contentHash = await imageContentHash(engineOf(params), params);
      return { inputs: { ...news, network: news.network ?? false, contentHash } };
    } catch (error) {
      return {
        inputs: news,
        failures: [{ property: imageMode(params) === "ref" ? "ref" : "base", reason: (error as Error).message }],
      };
    }
  },

  async diff(_id: string, olds: Props, news: Props) {
    await requireEngine(news);
    const changes = changedKeys(olds, news, IDENTITY_KEYS);
    const cosmetic = changedKeys(olds, news, IMAGE_INPUT_KEYS).filter((k) => !changes.includes(k) && k !== "sourceDir");
    // A new recipe is a new image under a new tag: build it, move the sandboxes, then delete the old one.
    return { changes: changes.length + cosmetic.length > 0, replaces: changes, deleteBeforeReplace: false };
  },

  async create(inputs: Props) {
    const params = inputs as unknown as ImageParams;
    const state = await ensureImage(engineOf(params), params, engineLog(`[image ${params.name}] `));
    return { id: state.imageRef, outs: { ...inputs, ...state } };
  },

  async read(id: string, props: Props) {
    const docker = engineOf(props);
    const image = await docker.images.inspect(id);
    if (!image) return {};
    return { id, props: { ...props, imageRef: id, imageId: image.id }, inputs: pick(props, IMAGE_INPUT_KEYS) };
  },

  async update(id: string, _olds: Props, news: Props) {
    return { outs: { ...news, imageRef: id, imageId: _olds.imageId } };
  },

  /** Removes the tag sandfleet built; an image given by reference, or still used by a container, stays. */
  async delete(id: string, props: Props) {
    if (props.ref !== undefined) return;
    await removeImageUnlessUsed(props, id, "image");
  },
});
