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
      return info && { id: info.Id, tags: info.RepoTags ?? [], labels: info.Config.Labels ?? {} };
    },
  };
}
