/**
 * Every image a spec brings in, by every way one can enter: an image's
 * `ref` and `base`, a raw step's `COPY --from`, the `FROM`s and `--from`s of
 * a Dockerfile, a sandbox's or pool's `image:`, and the sources of the
 * snapshots they start from. An `images` policy rule holds each of them to
 * its list, at the place in the file that brings it in.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { quoted } from "../reference-rules.ts";
import { readRawInstruction } from "../runtime/images/dockerfile-lines.ts";
import type { FleetUnit } from "./fleet.ts";
import type { PathSegment } from "./positions.ts";
import { isImageReference } from "./to-params.ts";
import type { SandfleetSpec } from "./types.ts";

export interface ImageSource {
  path: PathSegment[];
  /** How the image enters, for the message. */
  what: string;
  image: string;
  /** Set when the image cannot be known before a build (a build argument in a Dockerfile). */
  problem?: string;
}

export function imageSources(spec: SandfleetSpec, units: readonly FleetUnit[]): ImageSource[] {
  const sources: ImageSource[] = [];
  // Every image of the file, used or not: `pulumi up` builds them all.
  for (const [name, image] of Object.entries(spec.images)) {
    const at = ["images", name];
    if (image.ref !== undefined) sources.push({ path: [...at, "ref"], what: "image reference", image: image.ref });
    if (image.base !== undefined) sources.push({ path: [...at, "base"], what: "base image", image: image.base });
    image.steps?.forEach((step, i) => {
      if (!("dockerfile" in step)) return;
      const read = readRawInstruction(step.dockerfile);
      for (const from of "instruction" in read ? read.instruction.images : []) {
        sources.push({ path: [...at, "steps", i, "dockerfile"], what: "COPY --from image", image: from });
      }
    });
    if (image.dockerfile) {
      let text: string;
      try {
        text = readFileSync(resolve(spec.dir, image.dockerfile.path), "utf8");
      } catch {
        continue; // A Dockerfile that is not there is reported on its own.
      }
      for (const found of dockerfileImages(text)) {
        sources.push({
          path: [...at, "dockerfile", "path"],
          what: `Dockerfile line ${String(found.line)}: ${found.how}`,
          image: found.image,
          // Docker reads variables, quotes and escapes in these words: what they become cannot be checked here.
          ...(/[$"'\\`]/.test(found.image)
            ? {
                problem: `${quoted(found.image)} uses a build argument, quotes or escapes, so no policy can check it; name the image plainly`,
              }
            : {}),
        });
      }
    }
  }
  // Sandboxes and pools the rule selects: a reference directly, or through the snapshots they start from.
  for (const unit of units) {
    const seen = new Set<string>();
    let image = unit.sandbox.image;
    let path: PathSegment[] = [...unit.path, "image"];
    let what = "image";
    while (!Object.hasOwn(spec.images, image) && Object.hasOwn(spec.snapshots, image) && !seen.has(image)) {
      seen.add(image);
      const sandboxName = spec.snapshots[image]?.sandbox ?? "";
      if (!Object.hasOwn(spec.sandboxes, sandboxName)) break;
      what = `image of sandbox "${sandboxName}", which snapshot "${image}" is taken from,`;
      path = ["sandboxes", sandboxName, "image"];
      image = spec.sandboxes[sandboxName]?.image ?? "";
    }
    if (isImageReference(image)) sources.push({ path, what, image });
  }
  // The first way a place brings an image in is the one reported.
  const seen = new Set<string>();
  return sources.filter((source) => {
    const key = JSON.stringify([source.path, source.image]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * The images a Dockerfile names, read as Docker reads it: a `# escape=`
 * directive at the top picks the escape character, a line ending in it
 * goes on to the next, keywords in any case. FROM and `--from` naming an
 * earlier stage are not images.
 */
export function dockerfileImages(text: string): { line: number; how: string; image: string }[] {
  const lines = text
    .replace(/^\uFEFF/, "")
    .split("\n")
    .map((line) => line.replace(/\r$/, ""));
  const found: { line: number; how: string; image: string }[] = [];
  let escape = "\\";
  let first = 0;
  for (; first < lines.length; first++) {
    const directive = /^#\s*([A-Za-z]+)\s*=\s*(\S*)\s*$/.exec(lines[first] ?? "");
    if (!directive) break;
    const key = (directive[1] ?? "").toLowerCase();
    if (key === "escape" && directive[2]) escape = directive[2];
    // A frontend image BuildKit runs to read the rest of the file.
    if (key === "syntax") found.push({ line: first + 1, how: "# syntax=", image: directive[2] ?? "" });
  }
  const stages = new Set<string>();
  let logical = "";
  let start = 0;
  for (let i = first; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (logical === "") start = i + 1;
    // Docker skips comments and blank lines, also inside a continued instruction.
    if (/^\s*#/.test(line) || line.trim() === "") continue;
    const trimmed = line.replace(/[ \t]+$/, "");
    if (trimmed.endsWith(escape)) {
      // Joined as Docker joins them: nothing in between, so `FR\` + `OM x` is `FROM x`.
      logical += trimmed.slice(0, -escape.length);
      continue;
    }
    logical += line;
    found.push(...instructionImages(logical.trim(), start, stages));
    logical = "";
  }
  if (logical !== "") found.push(...instructionImages(logical.trim(), start, stages));
  return found;
}

function instructionImages(
  instruction: string,
  line: number,
  stages: Set<string>,
): { line: number; how: string; image: string }[] {
  const words = instruction.split(/\s+/);
  const keyword = (words[0] ?? "").toUpperCase();
  if (keyword === "ONBUILD") return instructionImages(words.slice(1).join(" "), line, stages);
  const found: { line: number; how: string; image: string }[] = [];
  const image = (how: string, name: string) => {
    if (!stages.has(name.toLowerCase()) && !/^\d+$/.test(name)) found.push({ line, how, image: name });
  };
  if (keyword === "FROM") {
    const args = words.slice(1).filter((word) => !word.startsWith("--"));
    image("FROM", args[0] ?? "");
    if ((args[1] ?? "").toUpperCase() === "AS" && args[2]) stages.add(args[2].toLowerCase());
  }
  for (const word of words.slice(1)) {
    if (!word.startsWith("--")) continue;
    const from = /^--from=(.+)$/i.exec(word)?.[1];
    if (from && (keyword === "COPY" || keyword === "ADD")) image(`${keyword} --from`, from);
    const mount = /^--mount=(.*)$/i.exec(word)?.[1];
    const mountFrom = mount ? /(?:^|,)from=([^,]+)/i.exec(mount)?.[1] : undefined;
    if (mountFrom && keyword === "RUN") image("RUN --mount from", mountFrom);
  }
  return found;
}
