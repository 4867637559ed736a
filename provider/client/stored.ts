import type { DockerClient } from "../docker/client.ts";
import type { ImageSummary, VolumeInfo } from "../docker/types.ts";
import { ensureImage, type ImageState } from "../runtime/image-build.ts";
import type { ImageParams } from "../runtime/image-recipe.ts";
import { scopeLabels } from "../runtime/labels.ts";

/** Images sandfleet builds: from steps or a Dockerfile, tagged by their content. */
export class Images {
  readonly #docker: DockerClient;

  /** @internal */
  constructor(docker: DockerClient) {
    this.#docker = docker;
  }

  /**
   * Builds the image unless one with the same content exists (sandfleet never
   * pulls: the base must be on the engine). Build output goes to `onLine`.
   */
  async build(params: ImageParams, onLine?: (line: string) => void): Promise<ImageState> {
    return ensureImage(this.#docker, params, onLine);
  }

  /** Images built by sandfleet (of the app, if given); snapshots are listed apart, by `kind`. */
  async list(params: { app?: string; kind?: "image" | "snapshot" } = {}): Promise<ImageSummary[]> {
    return this.#docker.images.list(scopeLabels(params.kind ?? "image", params.app));
  }
}

/** Volumes sandfleet made for apps. */
export class Volumes {
  readonly #docker: DockerClient;

  /** @internal */
  constructor(docker: DockerClient) {
    this.#docker = docker;
  }

  async list(params: { app?: string } = {}): Promise<VolumeInfo[]> {
    return this.#docker.volumes.list(scopeLabels("volume", params.app));
  }
}
