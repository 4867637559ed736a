import { cpSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import type { Engine } from "../../engines/port.ts";
import { ImageBuildError } from "../../errors.ts";
import { InvalidArgumentError, NotFoundError } from "../../errors.ts";
import {
  describeStep,
  dockerfileFor,
  imageMode,
  imageParamsProblems,
  recipeHash,
  type ImageParams,
} from "./image-recipe.ts";
import { makeScratchDir } from "../local/scratch-dir.ts";
import { LABEL, ownershipLabels } from "../engine-state/labels.ts";
import { imageRepository } from "../engine-state/names.ts";

export interface ImageState {
  /** What a sandbox names as its image. */
  imageRef: string;
  imageId: string;
  /** Content hash of the recipe; empty for an existing reference. */
  contentHash: string;
}

/** Fails with a clear message when the base image is missing; sandfleet never pulls. */
export async function baseImageId(docker: Engine, base: string): Promise<string> {
  const image = await docker.images.inspect(base);
  if (!image) {
    throw new NotFoundError(
      `base image "${base}" not found on the Docker engine at ${docker.host}; build or load it first (sandfleet never pulls)`,
    );
  }
  return image.id;
}

/** The content hash of an image's recipe, as `check` computes it before anything is built. */
export async function imageContentHash(docker: Engine, params: ImageParams): Promise<string> {
  if (imageMode(params) === "ref") return "";
  const baseId = params.base ? await baseImageId(docker, params.base) : "";
  return recipeHash(params, baseId);
}

export function imageTag(params: ImageParams, contentHash: string): string {
  return `${imageRepository(params.app, params.name)}:${contentHash.slice(0, 16)}`;
}

/**
 * Makes sure the image exists: an existing reference is checked, a recipe is
 * built under its content-addressed tag unless that tag is already there.
 * Build output goes to `onLine`; a failing step is named in the error.
 */
export async function ensureImage(
  docker: Engine,
  params: ImageParams,
  onLine: (line: string) => void = () => undefined,
): Promise<ImageState> {
  const problems = imageParamsProblems({ ...params });
  if (problems.length > 0) {
    throw new InvalidArgumentError(`invalid image: ${problems.map((p) => `${p.property} ${p.reason}`).join("; ")}`);
  }
  if (imageMode(params) === "ref") {
    const ref = params.ref ?? "";
    const image = await docker.images.inspect(ref);
    if (!image) throw new NotFoundError(`image "${ref}" not found on the Docker engine at ${docker.host}`);
    refuseForeignLabels(params, image.labels);
    return { imageRef: ref, imageId: image.id, contentHash: "" };
  }
  const contentHash = await imageContentHash(docker, params);
  const tag = imageTag(params, contentHash);
  const existing = await docker.images.inspect(tag);
  if (existing) {
    refuseForeignLabels(params, existing.labels);
    return { imageRef: tag, imageId: existing.id, contentHash };
  }

  const context = makeScratchDir("sandfleet-build-");
  try {
    const dockerfile = prepareContext(context, params);
    const labels = ownershipLabels(params.app, "image", {
      [LABEL.name]: params.name,
      "sandfleet.content-hash": contentHash,
    });
    let step = 0;
    const imageId = await docker.images
      .build(context, { tag, labels, networkMode: params.network ? "default" : "none", dockerfile }, (line) => {
        const match = /^Step (\d+)\/\d+ :/.exec(line);
        if (match) step = Number(match[1]);
        onLine(line);
      })
      .catch(async (error: unknown) => {
        if (!(error instanceof ImageBuildError)) throw error;
        await removeIntermediateImages(docker, error.output);
        throw stepError(params, step, error);
      });
    const built = await docker.images.inspect(tag);
    try {
      refuseForeignLabels(params, built?.labels ?? {});
    } catch (error) {
      await docker.images.remove(tag).catch(() => undefined);
      throw error;
    }
    return { imageRef: tag, imageId, contentHash };
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

/**
 * The sandfleet.* labels an image may carry: those sandfleet puts on the
 * images it builds, and the recipe marks of its base images. A container
 * inherits its image's labels, so any other (a tag, a lifetime, a pool or
 * claim mark) would reach every sandbox made from the image unseen, however
 * the Dockerfile spelt it (variables, quotes, escapes, or a base image).
 */
const IMAGE_LABELS: ReadonlySet<string> = new Set([
  LABEL.managed,
  LABEL.app,
  LABEL.kind,
  LABEL.name,
  "sandfleet.content-hash",
  "sandfleet.base",
  "sandfleet.recipe",
]);

function refuseForeignLabels(params: ImageParams, labels: Readonly<Record<string, string>>): void {
  const foreign = Object.keys(labels).filter((key) => key.startsWith("sandfleet.") && !IMAGE_LABELS.has(key));
  if (foreign.length === 0) return;
  throw new InvalidArgumentError(
    `image ${params.name}: carries sandfleet's own labels (${foreign.sort().join(", ")}), which every sandbox made from it would inherit; remove them from its Dockerfile or base image`,
  );
}

/** Lays out the build context; returns the Dockerfile's name in it. */
function prepareContext(context: string, params: ImageParams): string {
  const sourceDir = params.sourceDir ?? process.cwd();
  if (params.dockerfile) {
    cpSync(resolve(sourceDir, params.dockerfile.context ?? "."), context, { recursive: true });
    cpSync(resolve(sourceDir, params.dockerfile.path), join(context, ".sandfleet.Dockerfile"));
    return ".sandfleet.Dockerfile";
  }
  const steps = params.steps ?? [];
  steps.forEach((step, i) => {
    if (!("copy" in step)) return;
    const src = resolve(sourceDir, step.copy.src);
    const target = join(context, `copy-${i}`);
    // A folder's contents land in dest; a file lands in dest under its own name.
    cpSync(src, statSync(src).isDirectory() ? target : join(target, basename(src)), { recursive: true });
  });
  writeFileSync(join(context, "Dockerfile"), dockerfileFor(params.base ?? "", steps));
  return "Dockerfile";
}

/**
 * A failed build leaves the layers of its successful steps behind as untagged
 * images. Removing the last one removes its untagged parents too; the base
 * image (the first layer named) is tagged and stays.
 */
async function removeIntermediateImages(docker: Engine, output: string): Promise<void> {
  const layers = [...output.matchAll(/^ ---> ([0-9a-f]{12})$/gm)].map((m) => m[1] ?? "");
  const last = layers.slice(1).pop();
  if (last) await docker.images.remove(last).catch(() => undefined);
}

function stepError(params: ImageParams, step: number, error: ImageBuildError): ImageBuildError {
  const tail = error.output.split("\n").filter(Boolean).slice(-10).join("\n");
  const steps = params.steps ?? [];
  // Instruction 1 is FROM; instruction k + 2 is step k.
  const failed = params.dockerfile ? undefined : steps[step - 2];
  const where = failed
    ? `step ${step - 1} of ${steps.length} (${describeStep(failed)})`
    : step > 0
      ? `Dockerfile instruction ${step}`
      : "the build";
  return new ImageBuildError(
    `image ${params.name}: ${where} failed: ${error.message}${tail ? `\n${tail}` : ""}`,
    error.output,
  );
}
