import type { Engine } from "../engines/port.ts";
import type { ImageSummary, VolumeInfo } from "../engines/port.ts";
import { ensureImage, type ImageState } from "../runtime/images/image-build.ts";
import type { ImageParams } from "../runtime/images/image-recipe.ts";
import { ensureVolume, lookupAppNetwork } from "../runtime/networks/apps.ts";
import { scopeLabels } from "../runtime/engine-state/labels.ts";
import type { SandboxVolumeMount } from "../runtime/sandboxes/sandbox-params.ts";

/** Images sandfleet builds: from steps or a Dockerfile, tagged by their content. */
export class Images {
  readonly #docker: Engine;

  /** @internal */
  constructor(docker: Engine) {
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
  readonly #docker: Engine;

  /** @internal */
  constructor(docker: Engine) {
    this.#docker = docker;
  }

  async list(params: { app?: string } = {}): Promise<VolumeInfo[]> {
    return this.#docker.volumes.list(scopeLabels("volume", params.app));
  }

  /**
   * An app's volume by name, made first with `createIfMissing` (labelled as
   * the Volume resource labels it); NotFoundError otherwise.
   */
  async fromName(app: string, name: string, options: { createIfMissing?: boolean } = {}): Promise<AppVolume> {
    const volume = await ensureVolume(this.#docker, app, name, { createIfMissing: options.createIfMissing === true });
    return new AppVolume(app, name, volume.name);
  }
}

/** A volume of an app, ready to be mounted into sandboxes. */
export class AppVolume {
  readonly app: string;
  readonly name: string;
  /** The engine's name for it. */
  readonly dockerName: string;

  /** @internal */
  constructor(app: string, name: string, dockerName: string) {
    this.app = app;
    this.name = name;
    this.dockerName = dockerName;
  }

  /** A mount of this volume (or of one folder in it, `subPath`) at `mountPath`, for a sandbox's `volumes`. */
  mount(mountPath: string, options: { readOnly?: boolean; subPath?: string } = {}): SandboxVolumeMount {
    return {
      mountPath,
      volume: this.dockerName,
      readOnly: options.readOnly === true,
      ...(options.subPath !== undefined ? { subPath: options.subPath } : {}),
    };
  }
}

/** Apps as the runtime sees them: their private networks. */
export class Apps {
  readonly #docker: Engine;

  /** @internal */
  constructor(docker: Engine) {
    this.#docker = docker;
  }

  /**
   * An app, with its private network made first when `createIfMissing`
   * (labelled as the App resource labels it; `internet` lets its sandboxes
   * out), so that sandboxes with `network: "app"` can be made from code.
   */
  async lookup(
    name: string,
    options: { createIfMissing?: boolean; internet?: boolean } = {},
  ): Promise<{ name: string; network: string; internet: boolean }> {
    const network = await lookupAppNetwork(this.#docker, name, options);
    return { name, network: network.name, internet: network.masquerade };
  }
}
