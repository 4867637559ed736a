import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { basename, isAbsolute, join, resolve } from "node:path";
import { identityProblems } from "./names.ts";
import type { PropertyProblem } from "./sandbox-params.ts";

/** One step of an image recipe; each becomes one Dockerfile instruction. */
export type ImageStep =
  | { run: string | string[] }
  | { env: Record<string, string> }
  | { workdir: string }
  | { user: string }
  | { copy: { src: string; dest: string } }
  | { dockerfile: string };

/** An image: an existing local reference, or built from a base and steps, or from a Dockerfile. */
export interface ImageParams {
  app: string;
  name: string;
  /** An image already on the engine; nothing is built. */
  ref?: string;
  /** The image to build on (local; sandfleet never pulls). */
  base?: string;
  steps?: ImageStep[];
  /** A Dockerfile and its build context, instead of base and steps. */
  dockerfile?: { path: string; context?: string };
  /** Let RUN steps use the network. Default false. */
  network?: boolean;
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
  const modes = [params.ref, params.base ?? params.steps, params.dockerfile].filter((v) => v !== undefined).length;
  if (modes !== 1) {
    problems.push({ property: "base", reason: "give exactly one of ref, base (with steps), or dockerfile" });
  }
  if (params.ref !== undefined && (typeof params.ref !== "string" || params.ref === "")) {
    problems.push({ property: "ref", reason: "must be an image reference" });
  }
  if (params.steps !== undefined && params.base === undefined)
    problems.push({ property: "base", reason: "steps need a base image" });
  if (params.base !== undefined && (typeof params.base !== "string" || params.base === "")) {
    problems.push({ property: "base", reason: "must be an image reference" });
  }
  const sourceDir = typeof params.sourceDir === "string" ? params.sourceDir : process.cwd();
  if (params.steps !== undefined) {
    if (!Array.isArray(params.steps)) problems.push({ property: "steps", reason: "must be a list" });
    else params.steps.forEach((step: unknown, i) => problems.push(...stepProblems(step, `steps[${i}]`, sourceDir)));
  }
  if (params.dockerfile !== undefined) {
    const d: { path?: unknown; context?: unknown } | null =
      typeof params.dockerfile === "object" ? params.dockerfile : null;
    if (typeof d?.path !== "string") problems.push({ property: "dockerfile.path", reason: "is required" });
    else if (!isFile(resolve(sourceDir, d.path))) {
      problems.push({ property: "dockerfile.path", reason: `${resolve(sourceDir, d.path)} is not a file` });
    }
    if (d?.context !== undefined && (typeof d.context !== "string" || !isDirectory(resolve(sourceDir, d.context)))) {
      problems.push({ property: "dockerfile.context", reason: "must be a directory" });
    }
  }
  if (params.network !== undefined && typeof params.network !== "boolean") {
    problems.push({ property: "network", reason: "must be true or false" });
  }
  return problems;
}

function stepProblems(step: unknown, at: string, sourceDir: string): PropertyProblem[] {
  const keys = typeof step === "object" && step !== null ? Object.keys(step) : [];
  const kind = keys[0];
  if (keys.length !== 1 || !STEP_KINDS.includes(kind as (typeof STEP_KINDS)[number])) {
    return [{ property: at, reason: `must have exactly one of ${STEP_KINDS.join(", ")}` }];
  }
  const value = (step as Record<string, unknown>)[kind ?? ""];
  const bad = (reason: string) => [{ property: `${at}.${kind ?? ""}`, reason }];
  switch (kind) {
    case "run":
      if (typeof value === "string" ? value.trim() === "" : !isArgv(value))
        return bad("must be a command line or a non-empty list of strings");
      return [];
    case "env":
      if (
        typeof value !== "object" ||
        value === null ||
        Object.entries(value).some(([k, v]) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || typeof v !== "string")
      ) {
        return bad("must map variable names to strings");
      }
      return [];
    case "workdir":
      return typeof value === "string" && value.startsWith("/") ? [] : bad("must be an absolute path");
    case "user":
      return typeof value === "string" && value !== "" ? [] : bad("must name a user");
    case "dockerfile":
      return typeof value === "string" && value.trim() !== "" && !value.includes("\n") && !/^\s*FROM\b/i.test(value)
        ? []
        : bad("must be one Dockerfile instruction on one line, not FROM");
    case "copy": {
      const copy = value as { src?: unknown; dest?: unknown } | null;
      if (typeof copy?.src !== "string") return bad("needs src, a local file or folder");
      if (typeof copy.dest !== "string" || !copy.dest.startsWith("/")) return bad("needs dest, an absolute path");
      const src = resolve(sourceDir, copy.src);
      if (!isFile(src) && !isDirectory(src)) return bad(`${src} does not exist`);
      return [];
    }
  }
  return [];
}

function isArgv(value: unknown): boolean {
  return Array.isArray(value) && value.length > 0 && value.every((a) => typeof a === "string");
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The Dockerfile for base + steps. Copy step i takes its files from
 * `copy-<i>/` in the build context. Instruction i + 2 is step i (1 is FROM).
 */
export function dockerfileFor(base: string, steps: readonly ImageStep[]): string {
  const lines = [`FROM ${base}`];
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
    else if ("user" in step) lines.push(`USER ${step.user}`);
    else if ("copy" in step) lines.push(`COPY ${JSON.stringify([`copy-${i}/`, step.copy.dest])}`);
    else lines.push(step.dockerfile);
  });
  return lines.join("\n") + "\n";
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
  const hash = createHash("sha256");
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

function hashTree(hash: ReturnType<typeof createHash>, root: string): void {
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
