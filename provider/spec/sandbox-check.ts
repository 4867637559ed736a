import { sandboxParamsProblems } from "../runtime/sandboxes/sandbox-rules.ts";
import type { PathSegment } from "./positions.ts";
import type { SchemaProblem } from "./schema-errors.ts";
import { isImageReference, sandboxParamsFromSpec } from "./to-params.ts";
import type { SandfleetSpec, SpecSandbox } from "./types.ts";

// The API's name of a property, as sandfleet.yaml spells it.
const SPEC_NAMES: Record<string, string> = {
  memoryMiB: "memory",
  diskMiB: "disk",
  pidsLimit: "pids",
  timeoutMs: "timeout",
  idleTimeoutMs: "idleTimeout",
  tcpPort: "tcp",
  intervalMs: "interval",
};

/**
 * The problems of a sandbox (or a pool template) of sandfleet.yaml by the
 * rules of the TypeScript API (runtime/sandboxes/sandbox-rules.ts): the spec's sandbox
 * becomes the parameters the API would be given, and each problem is put
 * back at the place in the file it came from, in the API's own words.
 */
export function sandboxRuleProblems(spec: SandfleetSpec, at: PathSegment[], sandbox: SpecSandbox): SchemaProblem[] {
  const { dockerHost: _docker, kubernetes: _cluster, ...params } = sandboxParamsFromSpec(spec, sandbox);
  const mounts = Object.entries(sandbox.volumes ?? {});
  const secretKeys = (sandbox.secrets ?? []).flatMap((name) => Object.keys(spec.secrets[name]?.values ?? {}));
  const problems = sandboxParamsProblems({
    ...params,
    app: spec.app,
    // An image the file declares is named by its key, checked as a name where it is declared; a
    // reference to an engine's image is checked as the API checks it.
    image: isImageReference(sandbox.image) ? sandbox.image : "sandfleet/declared",
    volumes: mounts.map(([mountPath, mount]) =>
      typeof mount === "string" ? { mountPath, volume: mount } : { mountPath, ...mount },
    ),
    ...(secretKeys.length > 0 ? { secretEnv: Object.fromEntries(secretKeys.map((key) => [key, ""])) } : {}),
  });
  return problems
    .filter((p) => p.property !== "app") // the app's name is checked once, at `app`
    .map((p) => ({ ...specPlace(p.property, mounts), reason: p.reason }))
    .map((p) => ({ ...p, path: [...at, ...p.path] }));
}

/** Where an API property (`env.A`, `volumes[2].mountPath`, `readiness.tcpPort`) is in a spec's sandbox. */
function specPlace(
  property: string,
  mounts: [string, string | { volume: string }][],
): { path: PathSegment[]; atKey: boolean } {
  const [head = "", ...rest] = property.split(".");
  // Keys of maps are taken whole: a tag key may hold dots.
  if (head === "env" || head === "tags") return { path: rest.length ? [head, rest.join(".")] : [head], atKey: true };
  if (head === "secretEnv") return { path: ["secrets"], atKey: true };
  const segments = apiPropertyPath(property).map((s) => (typeof s === "string" ? (SPEC_NAMES[s] ?? s) : s));
  if (segments[0] === "volumes" && typeof segments[1] === "number") {
    const [mountPath = "", mount] = mounts[segments[1]] ?? [];
    const longForm = typeof mount === "object" && segments[2] !== "mountPath";
    return longForm
      ? { path: ["volumes", mountPath, ...segments.slice(2)], atKey: false }
      : { path: ["volumes", mountPath], atKey: segments[2] === "mountPath" };
  }
  return { path: segments, atKey: false };
}

/** The segments of an API property: `volumes[2].mountPath` is volumes, 2, mountPath. */
export function apiPropertyPath(property: string): PathSegment[] {
  return (property.match(/[^.[\]]+/g) ?? []).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}
