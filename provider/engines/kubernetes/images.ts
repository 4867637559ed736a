import { createWriteStream } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidArgumentError, NotFoundError } from "../../errors.ts";
import { binaryArchive, SUPERVISOR_FILES } from "../binary-archive.ts";
import type { ImageClient, ImageInfo, SupervisorClient } from "../port.ts";
import { nameHash } from "./labels.ts";
import { KUBERNETES_LIMITS } from "./limits.ts";

/**
 * What a pod adds to its image: the supervisor (a version placed earlier) at
 * `dir`, and a user given by name, which a pod spec cannot name (only by id).
 */
export interface ImageLayer {
  supervisor?: { version: string; dir: string } | undefined;
  userName?: string | undefined;
  /** The app the pod belongs to: its tags are its own, so that its end removes them and no other app's. */
  app?: string | undefined;
}

/** What a pod runs: its image as the cluster pulls it. */
export interface Publisher {
  /** The reference the cluster pulls `image` by, with `layer` on top: pushed there first. */
  publish(image: string, layer: ImageLayer): Promise<string>;
  supervisors(): SupervisorClient;
  /** Removes the local tags (and the layered images they name) made for `app`'s pods; the registry keeps its copies. */
  releaseApp(app: string): Promise<void>;
}

/** The end of every tag made for an app's pods. */
export const appSuffix = (app: string) => `-a${nameHash(app).slice(0, 12)}`;

/**
 * Images are built and kept by the local Docker engine, as on Docker, and
 * pushed to the registry the cluster pulls from when a pod first needs them,
 * under a tag derived from the image's id: content-addressed, so a rebuilt
 * image is a new tag and an unchanged one is never pushed twice.
 *
 * A sandbox's supervisor is a layer on top of its image. Kubernetes has no
 * volume filled from an image on every runtime, and an init container
 * copying the binary in would add a whole container's start to every
 * sandbox's; a layer costs one small build per image and supervisor version.
 */
export function imagePublisher(local: ImageClient, registry: string | undefined, host: string): Publisher {
  const pushed = new Map<string, Promise<string>>();
  const binaries = new Map<string, Buffer>();
  const needRegistry = () => {
    if (!registry) {
      throw new InvalidArgumentError(
        `the Kubernetes engine ${host} has no registry: give it one (kubernetes.registry) that its nodes pull from`,
      );
    }
    return registry;
  };
  const once = (key: string, make: () => Promise<string>): Promise<string> => {
    let done = pushed.get(key);
    if (!done) {
      done = make();
      pushed.set(key, done);
      done.catch(() => pushed.delete(key));
    }
    return done;
  };
  const push = async (ref: string, repo: string, tag: string) => {
    await local.tag(ref, repo, tag);
    await local.push(repo, tag);
    return `${repo}:${tag}`;
  };
  /** A push of a tag that an app's end removed meanwhile (another process's) is made once more from the start. */
  const twice = async (make: () => Promise<string>) => make().catch(() => make());
  const withLayer = async (imageId: string, layer: ImageLayer, ref: string): Promise<void> => {
    if (await local.inspect(ref)) return;
    const context = await mkdtemp(join(tmpdir(), "sandfleet-layer-"));
    try {
      const lines = [`FROM ${imageId}`];
      if (layer.supervisor) {
        const binary = binaries.get(layer.supervisor.version);
        if (!binary) throw new NotFoundError(`supervisor ${layer.supervisor.version} was not placed on ${host}`);
        // ADD unpacks the archive with the modes it carries: one copy execute-only (SUPERVISOR_FILES).
        const archive = await binaryArchive(layer.supervisor.dir.replace(/^\/+/, ""), binary, SUPERVISOR_FILES);
        await pipeline(archive, createWriteStream(join(context, "sandfleet-supervisor.tar")));
        lines.push("ADD sandfleet-supervisor.tar /");
      }
      if (layer.userName) lines.push(`USER ${layer.userName}`);
      await writeFile(join(context, "Dockerfile"), `${lines.join("\n")}\n`);
      await local.build(context, { tag: ref, labels: {}, networkMode: "none", dockerfile: "Dockerfile" }, () => {});
    } finally {
      await rm(context, { recursive: true, force: true });
    }
  };
  return {
    async publish(image, layer) {
      const repo = `${needRegistry()}/sandfleet/images`;
      const info = await local.inspect(image);
      if (!info) {
        throw new NotFoundError(`image "${image}" not found on the local Docker engine; build or load it first`);
      }
      const digest = info.id.replace(/^sha256:/, "").slice(0, 32);
      const own = layer.app === undefined ? "" : appSuffix(layer.app);
      if (!layer.supervisor && !layer.userName) {
        return once(`${info.id}${own}`, () => twice(() => push(info.id, repo, `${digest}${own}`)));
      }
      const { app: _app, ...added } = layer;
      const tag = `${digest}-${nameHash(JSON.stringify(added)).slice(0, 16)}${own}`;
      return once(`${info.id}/${tag}`, () =>
        twice(async () => {
          await withLayer(info.id, layer, `${repo}:${tag}`);
          return push(`${repo}:${tag}`, repo, tag);
        }),
      );
    },
    async releaseApp(app) {
      if (!registry) return;
      const repo = `${registry}/sandfleet/images`;
      const suffix = appSuffix(app);
      for (const image of await local.list({}, { reference: repo })) {
        for (const ref of image.tags) {
          if (!ref.startsWith(`${repo}:`) || !ref.endsWith(suffix)) continue;
          await local.remove(ref);
          for (const key of [...pushed.keys()]) if (key.endsWith(suffix)) pushed.delete(key);
        }
      }
    },
    /** The supervisor's binary, kept for the images that carry it. */
    supervisors(): SupervisorClient {
      return {
        async place({ version, binary }) {
          needRegistry();
          binaries.set(version, binary);
        },
        // The registry keeps every version: removing one from it is the registry's own garbage collection.
        async list() {
          return [];
        },
        async remove() {
          return false;
        },
      };
    },
  };
}

/**
 * Image operations on Kubernetes: the local engine's, except a snapshot of a
 * pod. Without a local engine (an agent inside the cluster), an image is known
 * by what a pod made of it noted.
 */
export function kubernetesImages(
  local: ImageClient,
  /** The local engine's inspect, else (no local engine) what a pod noted. */
  inspect: (ref: string) => Promise<ImageInfo | undefined>,
): ImageClient {
  return {
    ...local,
    inspect,
    async commit() {
      throw new InvalidArgumentError(KUBERNETES_LIMITS.snapshot);
    },
  };
}
