import { Readable } from "node:stream";
import type Docker from "dockerode";
import { pack } from "tar-fs";
import { ConflictError, EngineError, NotFoundError } from "../errors.ts";
import { engineCall, engineLookup, translateDockerError } from "./errors.ts";
import { labelFilters } from "./containers.ts";
import { listOf } from "./values.ts";
import type { ImageBuildSpec, ImageConfig, ImageInfo, ImageRemoval, ImageSummary, Labels } from "./types.ts";

/** A snapshot to record: its name, its labels and the image config it keeps. */
export interface ImageCommitSpec extends ImageConfig {
  repo: string;
  tag: string;
  labels: Labels;
}

/** A build step that failed: the engine's own message and the output before it. */
export class ImageBuildError extends EngineError {
  override readonly name: string = "ImageBuildError";
  readonly output: string;
  constructor(message: string, output: string) {
    super(message);
    this.output = output;
  }
}

export interface ImageClient {
  inspect(ref: string): Promise<ImageInfo | undefined>;
  /** Builds the directory `contextDir` (with its Dockerfile); streams each output line to `onLine`. */
  build(contextDir: string, spec: ImageBuildSpec, onLine: (line: string) => void): Promise<string>;
  /** Records a container's filesystem as an image with exactly the given config; returns the image id. */
  commit(containerId: string, spec: ImageCommitSpec): Promise<string>;
  /** Removes one reference to an image; an image a container still uses is kept. */
  remove(ref: string): Promise<ImageRemoval>;
  list(labels: Labels): Promise<ImageSummary[]>;
}

interface BuildEvent {
  stream?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string };
}

export function imageClient(docker: Docker): ImageClient {
  const inspect = async (ref: string): Promise<ImageInfo | undefined> => {
    const info = await engineLookup(`inspect image ${ref}`, () => docker.getImage(ref).inspect());
    if (!info) return undefined;
    // The engine sends null for missing lists and maps, whatever the typings say.
    const config = info.Config as Partial<Record<string, unknown>>;
    return {
      id: info.Id,
      tags: listOf(info.RepoTags),
      labels: (config.Labels as Record<string, string> | null) ?? {},
      env: (config.Env as string[] | null) ?? [],
      cmd: (config.Cmd as string[] | null) ?? undefined,
      entrypoint: (config.Entrypoint as string[] | null) ?? undefined,
      user: (config.User as string | null) ?? "",
      workdir: (config.WorkingDir as string | null) ?? "",
    };
  };

  return {
    inspect,

    async build(contextDir, spec, onLine) {
      const stream = await engineCall(`build image ${spec.tag}`, () =>
        docker.buildImage(Readable.from(pack(contextDir)), {
          t: spec.tag,
          labels: { ...spec.labels },
          networkmode: spec.networkMode,
          dockerfile: spec.dockerfile,
          rm: true,
          forcerm: true,
          pull: false,
        }),
      );
      const output: string[] = [];
      let failure: string | undefined;
      let partial = "";
      await new Promise<void>((resolve, reject) => {
        docker.modem.followProgress(
          stream,
          (error: Error | null) => {
            if (error) reject(translateDockerError(error, `build image ${spec.tag}`));
            else resolve();
          },
          (event: BuildEvent) => {
            if (event.stream) {
              const lines = (partial + event.stream).split("\n");
              partial = lines.pop() ?? "";
              for (const line of lines) {
                output.push(line);
                onLine(line);
              }
            }
            if (event.error) failure = event.errorDetail?.message ?? event.error;
          },
        );
      });
      if (partial) {
        output.push(partial);
        onLine(partial);
      }
      if (failure !== undefined) throw new ImageBuildError(failure, output.join("\n"));
      const built = await inspect(spec.tag);
      if (!built) throw new ImageBuildError(`build of ${spec.tag} finished without an image`, output.join("\n"));
      return built.id;
    },

    async commit(containerId, spec) {
      // Exported and imported rather than committed: a commit merges the
      // container's own config (its environment, its labels) into the image,
      // and those must not be carried over.
      const container = docker.getContainer(containerId);
      const paused = await container.pause().then(
        () => true,
        () => false,
      );
      try {
        const tar = await engineCall(`export container ${containerId}`, () => container.export());
        const progress = await engineCall(`import snapshot ${spec.repo}:${spec.tag}`, () =>
          docker.importImage(tar, { repo: spec.repo, tag: spec.tag, changes: configChanges(spec) }),
        );
        await new Promise<void>((resolve, reject) => {
          docker.modem.followProgress(progress, (error: Error | null) => {
            if (error) reject(translateDockerError(error, `import snapshot ${spec.repo}:${spec.tag}`));
            else resolve();
          });
        });
      } finally {
        if (paused) await container.unpause().catch(() => undefined);
      }
      const image = await inspect(`${spec.repo}:${spec.tag}`);
      if (!image) throw new EngineError(`snapshot ${spec.repo}:${spec.tag} was imported but cannot be found`);
      return image.id;
    },

    async remove(ref) {
      try {
        await engineCall(`remove image ${ref}`, () => docker.getImage(ref).remove({ force: false, noprune: false }));
        return "removed";
      } catch (error) {
        if (error instanceof NotFoundError) return "absent";
        if (error instanceof ConflictError) return "in-use";
        throw error;
      }
    },

    async list(labels) {
      const found = await engineCall("list images", () =>
        docker.listImages({ filters: { label: labelFilters(labels) } }),
      );
      return found.map((image) => ({
        id: image.Id,
        tags: (image.RepoTags as string[] | null) ?? [],
        labels: (image.Labels as Record<string, string> | null) ?? {},
      }));
    },
  };
}

/** The image config of a snapshot, as Dockerfile instructions for an import. */
function configChanges(spec: ImageCommitSpec): string[] {
  return [
    ...spec.env.map((entry) => {
      const eq = entry.indexOf("=");
      return `ENV ${entry.slice(0, eq)}=${JSON.stringify(entry.slice(eq + 1))}`;
    }),
    ...Object.entries(spec.labels).map(([k, v]) => `LABEL ${JSON.stringify(k)}=${JSON.stringify(v)}`),
    ...(spec.cmd ? [`CMD ${JSON.stringify(spec.cmd)}`] : []),
    ...(spec.entrypoint ? [`ENTRYPOINT ${JSON.stringify(spec.entrypoint)}`] : []),
    ...(spec.user ? [`USER ${spec.user}`] : []),
    ...(spec.workdir ? [`WORKDIR ${JSON.stringify(spec.workdir)}`] : []),
  ];
}
