import type { Hash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { sha256 } from "../../digest.ts";
import { localPathProblem } from "../../local-paths.ts";
import { InvalidArgumentError } from "../../errors.ts";
import { LIMITS, ruleProblem } from "../../rules.ts";
import { basename, isAbsolute, join, resolve } from "node:path";
import { imageReferenceProblem, userProblem } from "../../reference-rules.ts";
import { rawInstructionProblem, readRawInstruction } from "./dockerfile-lines.ts";
import { identityProblems } from "../engine-state/names.ts";
import { argvProblems, mapProblems, type PropertyProblem } from "../sandboxes/sandbox-params.ts";

/** One step of an image recipe; each becomes one Dockerfile instruction. */
export type ImageStep =
  | { run: string | string[] }
  | { env: Record<string, string> }
  | { workdir: string }
  | { user: string }
  | { copy: { src: string; dest: string } }
  | { dockerfile: string };

/**
 * Where an image comes from: an existing local reference, or built from a
 * base and steps, or from a Dockerfile. The one shape sandfleet.yaml, the
 * Image resource and the runtime all take.
 */
export interface ImageSource {
  /** An image already on the engine; nothing is built. */
  ref?: string;
  /** The image to build on (local; sandfleet never pulls). */
  base?: string;
  /** Run commands, set env, workdir or user, copy local files or folders, or raw Dockerfile lines. */
  steps?: ImageStep[];
  /** A Dockerfile and its build context, instead of base and steps. */
  dockerfile?: { path: string; context?: string };
  /** Let RUN steps use the network. Default false. */
  network?: boolean;
}

/** An image of an app, from its source. */
export interface ImageParams extends ImageSource {
  app: string;
  name: string;
  /** Directory that relative paths (copy sources, Dockerfile, context) start from. */
  sourceDir?: string;
  dockerHost?: string;
}

export type ImageMode = "ref" | "steps" | "dockerfile";

export function imageMode(params: ImageParams): ImageMode {
  if (params.ref !== undefined) return "ref";
  if (params.dockerfile !== undefined) return "dockerfile";
  return "steps";
}

const STEP_KINDS = ["run", "env", "workdir", "user", "copy", "dockerfile"] as const;

export function imageParamsProblems(params: Readonly<Record<string, unknown>>): PropertyProblem[] {
  const problems: PropertyProblem[] = identityProblems(params);
  const problem = (property: string, reason: string | undefined) => {
    if (reason) problems.push({ property, reason });
  };
  const modes = [params.ref, params.base ?? params.steps, params.dockerfile].filter((v) => v !== undefined).length;
  if (modes !== 1) problem("base", "give exactly one of ref, base (with steps), or dockerfile");
  for (const key of ["ref", "base"] as const) {
    // Both are image references by Docker's grammar: the base is written into a FROM line.
    if (params[key] !== undefined) problem(key, imageReferenceProblem(params[key]));
  }
  if (params.steps !== undefined && params.base === undefined) problem("base", "steps need a base image");
  const sourceDir = typeof params.sourceDir === "string" ? params.sourceDir : process.cwd();
  if (params.steps !== undefined) {
    if (!Array.isArray(params.steps)) problem("steps", "must be a list");
    else if (params.steps.length > LIMITS.steps) {
      problem("steps", `must have at most ${String(LIMITS.steps)} items (has ${String(params.steps.length)})`);
    } else params.steps.forEach((step: unknown, i) => problems.push(...stepProblems(step, `steps[${i}]`, sourceDir)));
  }
  if (params.dockerfile !== undefined) {
    const d: { path?: unknown; context?: unknown } | null =
      typeof params.dockerfile === "object" ? params.dockerfile : null;
    if (typeof d?.path !== "string") problem("dockerfile.path", "is required");
    else problem("dockerfile.path", localPathProblem(sourceDir, d.path, "file"));
    if (d?.context !== undefined) {
      problem(
        "dockerfile.context",
        typeof d.context === "string" ? localPathProblem(sourceDir, d.context, "folder") : "must be a folder",
      );
    }
  }
  if (params.network !== undefined && typeof params.network !== "boolean") problem("network", "must be true or false");
  return problems;
}

function stepProblems(step: unknown, at: string, sourceDir: string): PropertyProblem[] {
  const keys = typeof step === "object" && step !== null ? Object.keys(step) : [];
  const kind = keys[0];
  if (keys.length !== 1 || !STEP_KINDS.includes(kind as (typeof STEP_KINDS)[number])) {
    return [{ property: at, reason: `must have exactly one of ${STEP_KINDS.join(", ")}` }];
  }
  const value = (step as Record<string, unknown>)[kind ?? ""];
  const bad = (reason: string | undefined) => (reason ? [{ property: `${at}.${kind ?? ""}`, reason }] : []);
  switch (kind) {
    case "run":
      if (typeof value === "string") return bad(value.trim() === "" ? "must not be empty" : ruleProblem("text", value));
      return argvProblems(`${at}.run`, value);
    case "env":
      return mapProblems(`${at}.env`, value, "variableName", "text");
    case "workdir":
      return bad(ruleProblem("absolutePath", value));
    case "user":
      return bad(userProblem(value));
    case "dockerfile":
      return bad(rawInstructionProblem(value));
    case "copy": {
      const copy = value as { src?: unknown; dest?: unknown } | null;
      if (typeof copy?.src !== "string") return bad("needs src, a local file or folder");
      return [
        ...(copy.dest === undefined ? bad("needs dest, an absolute path") : []),
        ...(copy.dest !== undefined && ruleProblem("absolutePath", copy.dest)
          ? [{ property: `${at}.copy.dest`, reason: ruleProblem("absolutePath", copy.dest) ?? "" }]
          : []),
        ...(localPathProblem(sourceDir, copy.src)
          ? [{ property: `${at}.copy.src`, reason: localPathProblem(sourceDir, copy.src) ?? "" }]
          : []),
      ];
    }
  }
  return [];
}

/**
 * The Dockerfile for base + steps. Copy step i takes its files from
 * `copy-<i>/` in the build context. Instruction i + 2 is step i (1 is FROM).
 * The first line pins the escape character, so that no later line can pick
 * another; every step is one line that cannot reach the next (see
 * dockerfile-lines.ts), so a `user` step is always the image's user.
 */
export function dockerfileFor(base: string, steps: readonly ImageStep[]): string {
  const lines = ["# escape=\\", `FROM ${checked(base, imageReferenceProblem)}`];
  steps.forEach((step, i) => {
    if ("run" in step) {
      lines.push(`RUN ${JSON.stringify(typeof step.run === "string" ? ["/bin/sh", "-c", step.run] : step.run)}`);
    } else if ("env" in step) {
      lines.push(
        `ENV ${
          Object.entries(step.env)
            .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
            .join(" ") || "_SANDFLEET_EMPTY=1"
        }`,
      );
    } else if ("workdir" in step) lines.push(`WORKDIR ${JSON.stringify(step.workdir)}`);
    else if ("user" in step) lines.push(`USER ${checked(step.user, userProblem)}`);
    else if ("copy" in step) lines.push(`COPY ${JSON.stringify([`copy-${i}/`, step.copy.dest])}`);
    else lines.push(rawLine(step.dockerfile));
  });
  return lines.join("\n") + "\n";
}

/**
 * The last guard before text becomes a Dockerfile line: every caller checks
 * first (imageParamsProblems), but a value that could reach another line
 * here would change the image, so it never passes.
 */
function checked(value: string, problem: (value: unknown) => string | undefined): string {
  const reason = problem(value);
  if (reason) throw new InvalidArgumentError(`${JSON.stringify(value)} ${reason}`);
  return value;
}

function rawLine(value: string): string {
  const read = readRawInstruction(value);
  if ("problem" in read) throw new InvalidArgumentError(`${JSON.stringify(value)} ${read.problem}`);
  return read.instruction.text;
}

export function describeStep(step: ImageStep): string {
  if ("run" in step) return `run: ${typeof step.run === "string" ? step.run : JSON.stringify(step.run)}`;
  if ("env" in step) return `env: ${Object.keys(step.env).join(", ")}`;
  if ("workdir" in step) return `workdir: ${step.workdir}`;
  if ("user" in step) return `user: ${step.user}`;
  if ("copy" in step) return `copy: ${step.copy.src} -> ${step.copy.dest}`;
  return `dockerfile: ${step.dockerfile}`;
}

/**
 * The content hash of a recipe: the base image's id, the steps, and every
 * byte, name and executable bit of the files it copies. An unchanged recipe
 * hashes the same, so it is never rebuilt; a changed file always rebuilds.
 */
export function recipeHash(params: ImageParams, baseImageId: string): string {
  const hash = sha256();
  const sourceDir = params.sourceDir ?? process.cwd();
  hash.update(
    JSON.stringify({
      v: 1,
      base: params.base,
      baseImageId,
      steps: params.steps ?? [],
      network: params.network ?? false,
    }),
  );
  for (const step of params.steps ?? []) {
    if ("copy" in step) hashTree(hash, resolve(sourceDir, step.copy.src));
  }
  if (params.dockerfile) {
    hash.update(readFileSync(resolve(sourceDir, params.dockerfile.path)));
    hashTree(hash, resolve(sourceDir, params.dockerfile.context ?? "."));
  }
  return hash.digest("hex");
}

function hashTree(hash: Hash, root: string): void {
  const walk = (path: string, rel: string) => {
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) hash.update(`link ${rel} ${readlinkSync(path)}\n`);
    else if (stat.isDirectory()) {
      hash.update(`dir ${rel}\n`);
      for (const entry of readdirSync(path).sort()) walk(join(path, entry), rel ? `${rel}/${entry}` : entry);
    } else {
      hash.update(`file ${rel} ${stat.mode & 0o111 ? "x" : "-"} ${stat.size}\n`);
      hash.update(readFileSync(path));
    }
  };
  walk(root, isAbsolute(root) && statSync(root).isFile() ? basename(root) : "");
}
