import type Docker from "dockerode";
import { engineLookup } from "./errors.ts";
import type { ImageInfo } from "./types.ts";

export interface ImageClient {
  inspect(ref: string): Promise<ImageInfo | undefined>;
}

export function imageClient(docker: Docker): ImageClient {
  return {
    async inspect(ref) {
      const info = await engineLookup(`inspect image ${ref}`, () => docker.getImage(ref).inspect());
      if (!info) return undefined;
      // The engine sends null for an image without tags or labels, whatever the typings say.
      const tags = info.RepoTags as string[] | null;
      const labels = info.Config.Labels as Record<string, string> | null;
      return { id: info.Id, tags: tags ?? [], labels: labels ?? {} };
    },
  };
}
