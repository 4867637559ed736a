import { Readable } from "node:stream";
import { ConflictError, EngineError, ImageBuildError, NotFoundError } from "../../errors.ts";
import { labelFilters } from "./containers.ts";
import { readJsonLines } from "./demux.ts";
import { engineCall, engineLookup } from "./errors.ts";
import type { EngineHttp } from "./http.ts";
import type { RawImage, RawImageSummary, RawProgress } from "./raw.ts";
import { listOf, mapOf } from "./values.ts";
import type { ImageClient, ImageCommitSpec, ImageInfo } from "../port.ts";

/** A build step that failed: the engine's own message and the output before it. */

export function imageClient(docker: EngineHttp): ImageClient {
  const path = (ref: string, action = "") => `/images/${encodeURIComponent(ref)}${action}`;
  const inspect = async (ref: string): Promise<ImageInfo | undefined> => {
    const info = await engineLookup(`inspect image ${ref}`, () => docker.json<RawImage>("GET", path(ref, "/json")));
    if (!info) return undefined;
    const config = info.Config ?? {};
    return {
      id: info.Id,
      tags: listOf(info.RepoTags),
      labels: mapOf(config.Labels),
      env: listOf(config.Env),
      cmd: config.Cmd ?? undefined,
      entrypoint: config.Entrypoint ?? undefined,
      user: config.User ?? "",
      workdir: config.WorkingDir ?? "",
    };
  };

  // A root filesystem as a tar stream becomes an image with the given config.
  const importArchive = async (tar: Readable, spec: ImageCommitSpec, what: string): Promise<string> => {
    const name = `${spec.repo}:${spec.tag}`;
    const events = await engineCall(`import ${what} ${name}`, async () => {
      const progress = await docker.stream("POST", "/images/create", {
        query: { fromSrc: "-", repo: spec.repo, tag: spec.tag, changes: configChanges(spec) },
        upload: tar,
      });
      return readJsonLines<RawProgress>(progress);
    });
    const failure = events.map(progressError).findLast((error) => error !== undefined);
    if (failure !== undefined) throw new EngineError(`import ${what} ${name}: ${failure}`);
    const image = await inspect(name);
    if (!image) throw new EngineError(`${what} ${name} was imported but cannot be found`);
    return image.id;
  };
  return {
    inspect,

    async build(contextDir, spec, onLine) {
      const output: string[] = [];
      let failure: string | undefined;
      let partial = "";
      await engineCall(`build image ${spec.tag}`, async () => {
        const progress = await docker.stream("POST", "/build", {
          query: {
            t: spec.tag,
            labels: JSON.stringify(spec.labels),
            networkmode: spec.networkMode,
            dockerfile: spec.dockerfile,
            rm: true,
            forcerm: true,
            pull: false,
          },
          // Loaded when first needed: most processes never build.
          upload: Readable.from((await import("tar-fs")).pack(contextDir)),
        });
        await readJsonLines<RawProgress>(progress, (event) => {
          if (event.stream) {
            const lines = (partial + event.stream).split("\n");
            partial = lines.pop() ?? "";
            for (const line of lines) {
              output.push(line);
              onLine(line);
            }
          }
          failure = progressError(event) ?? failure;
        });
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
      const container = `/containers/${encodeURIComponent(containerId)}`;
      const paused = await docker.json("POST", `${container}/pause`).then(
        () => true,
        () => false,
      );
      try {
        const tar = await engineCall(`export container ${containerId}`, () =>
          docker.stream("GET", `${container}/export`),
        );
        return await importArchive(tar, spec, "snapshot");
      } finally {
        if (paused) await docker.json("POST", `${container}/unpause`).catch(() => undefined);
      }
    },

    async importArchive(tar, spec) {
      return importArchive(tar, spec, "image");
    },

    async tag(ref, repo, tag) {
      await engineCall(`tag image ${ref} as ${repo}:${tag}`, () =>
        docker.json("POST", path(ref, "/tag"), { query: { repo, tag } }),
      );
    },

    async push(repo, tag) {
      const events = await engineCall(`push image ${repo}:${tag}`, async () => {
        const progress = await docker.stream("POST", path(repo, "/push"), {
          query: { tag },
          // The engine wants credentials even for a registry that needs none.
          headers: { "X-Registry-Auth": Buffer.from("{}").toString("base64") },
        });
        return readJsonLines<RawProgress>(progress);
      });
      const failure = events.map(progressError).findLast((error) => error !== undefined);
      if (failure !== undefined) throw new EngineError(`push image ${repo}:${tag}: ${failure}`);
    },

    async remove(ref) {
      try {
        await engineCall(`remove image ${ref}`, () =>
          docker.json("DELETE", path(ref), { query: { force: false, noprune: false } }),
        );
        return "removed";
      } catch (error) {
        if (error instanceof NotFoundError) return "absent";
        if (error instanceof ConflictError) return "in-use";
        throw error;
      }
    },

    async list(labels, options = {}) {
      const filters = {
        label: labelFilters(labels),
        ...(options.reference !== undefined ? { reference: [options.reference] } : {}),
      };
      const found = await engineCall("list images", () =>
        docker.json<RawImageSummary[]>("GET", "/images/json", { query: { filters: JSON.stringify(filters) } }),
      );
      return found.map((image) => ({ id: image.Id, tags: listOf(image.RepoTags), labels: mapOf(image.Labels) }));
    },
  };
}

/** What a line of build or import progress says went wrong, if anything. */
function progressError(event: RawProgress): string | undefined {
  return event.error ? (event.errorDetail?.message ?? event.error) : undefined;
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
