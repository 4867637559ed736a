// An agent inside the cluster has no Docker engine to build or push images
// with. What it makes (a pool's new member) runs an image that the maker of
// the pool (`sandfleet up`, with Docker beside it) already pushed: another pod
// of sandfleet's made from the same image and layer names the reference the
// nodes pull, and the image's user the maker's engine read.
import { EngineUnavailableError, NotFoundError } from "../../errors.ts";
import type { KubeApis } from "./api.ts";
import type { KubeCall } from "./errors.ts";
import type { ImageLayer } from "./images.ts";
import { OWNED_LABEL } from "./labels.ts";
import { SANDBOX_CONTAINER, specNote, type ImageNote } from "./pod-spec.ts";

export interface PublishedImage {
  reference: string;
  imageConfig: ImageNote | undefined;
}

/** The image and layer as a live pod of the namespace runs them, or undefined when none does. */
export function publishedByPods(
  apis: () => Promise<KubeApis>,
  call: KubeCall,
): (image: string, layer: ImageLayer | undefined) => Promise<PublishedImage | undefined> {
  return async (image, layer) => {
    const { core, namespace } = await apis();
    const pods = await call(`list pods that run image ${image}`, () =>
      core.listNamespacedPod({ namespace, labelSelector: `${OWNED_LABEL}=true` }),
    );
    for (const pod of pods.items) {
      if (pod.metadata?.deletionTimestamp) continue;
      const note = specNote(pod);
      if (note.image !== image) continue;
      if (layer) {
        const userName = note.user && !/^\d+(:\d+)?$/.test(note.user) ? note.user : undefined;
        if (userName !== layer.userName) continue;
        if (JSON.stringify(note.supervisor ?? null) !== JSON.stringify(layer.supervisor ?? null)) continue;
      }
      const reference = pod.spec?.containers.find((c) => c.name === SANDBOX_CONTAINER)?.image;
      if (reference) return { reference, imageConfig: note.imageConfig };
    }
    return undefined;
  };
}

/**
 * `fromDocker`, else (its engine unreachable) what a pod of the namespace
 * runs; the refusal says both.
 */
export async function withPublishedFallback<T>(
  image: string,
  fromDocker: () => Promise<T>,
  fromPods: () => Promise<T | undefined>,
): Promise<T> {
  try {
    return await fromDocker();
  } catch (error) {
    if (!(error instanceof EngineUnavailableError)) throw error;
    const found = await fromPods();
    if (found !== undefined) return found;
    throw new NotFoundError(
      `image "${image}": ${error.message}, and no pod of sandfleet's in the namespace runs it; ` +
        "make or refill the pool with `sandfleet up` where a Docker engine builds and pushes its images",
    );
  }
}
