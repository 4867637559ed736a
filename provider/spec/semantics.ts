import { dockerHostProblem } from "../addresses.ts";
import { KUBERNETES_LIMITS } from "../engines/engine-rules.ts";
import { kubernetesTargetProblems } from "../engines/engine-rules.ts";
import { egressEntriesRefused } from "../runtime/networks/egress-rules.ts";
import { webhookProblems } from "../runtime/observability/webhooks.ts";
import { localPathProblem } from "../local-paths.ts";
import { apiPropertyPath, sandboxRuleProblems } from "./sandbox-check.ts";
import type { SchemaProblem } from "./schema-errors.ts";
import { isImageReference } from "./to-params.ts";
import type { SandfleetSpec, SpecSandbox } from "./types.ts";

/**
 * What the schema cannot say: references to entries that do not exist,
 * names two entries share, ranges of sizes and durations, files that are not
 * there, probes on ports that are not published, and cycles.
 */
export function semanticProblems(spec: SandfleetSpec): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const problem = (path: (string | number)[], reason: string, atKey = false) => problems.push({ path, reason, atKey });

  // Sandboxes and pools make containers in one namespace; images and snapshots are both `image:` names.
  for (const name of Object.keys(spec.pools)) {
    if (Object.hasOwn(spec.sandboxes, name))
      problem(["pools", name], `name "${name}" is also a sandbox; sandboxes and pools share names`, true);
  }
  for (const name of Object.keys(spec.snapshots)) {
    if (Object.hasOwn(spec.images, name))
      problem(["snapshots", name], `name "${name}" is also an image; images and snapshots share names`, true);
  }

  for (const [name, image] of Object.entries(spec.images)) {
    image.steps?.forEach((step, i) => {
      if ("copy" in step) checkLocalPath(spec, ["images", name, "steps", i, "copy", "src"], step.copy.src, problem);
    });
    if (image.dockerfile) {
      checkLocalPath(spec, ["images", name, "dockerfile", "path"], image.dockerfile.path, problem, "file");
      if (image.dockerfile.context !== undefined) {
        checkLocalPath(spec, ["images", name, "dockerfile", "context"], image.dockerfile.context, problem, "folder");
      }
    }
  }

  if (spec.dockerHost !== undefined) {
    const reason = dockerHostProblem(spec.dockerHost);
    if (reason) problem(["dockerHost"], reason);
  }
  if (spec.kubernetes) {
    for (const found of kubernetesTargetProblems(spec.kubernetes))
      problem(["kubernetes", ...(found.property ? [found.property] : [])], found.reason);
    if (spec.dockerHost !== undefined) problem(["kubernetes"], KUBERNETES_LIMITS.engines, true);
    for (const name of Object.keys(spec.snapshots)) problem(["snapshots", name], KUBERNETES_LIMITS.snapshot, true);
    const templates = [
      ...Object.entries(spec.sandboxes).map(([name, s]) => [["sandboxes", name], s] as const),
      ...Object.entries(spec.pools).map(([name, p]) => [["pools", name, "template"], p.template] as const),
    ];
    for (const [at, sandbox] of templates) {
      // The runtime refuses the same, with the same words, from the engine's capabilities.
      const allow: readonly unknown[] = Array.isArray(sandbox.egress?.allow) ? sandbox.egress.allow : [];
      for (const { index, reason } of egressEntriesRefused(allow, { names: KUBERNETES_LIMITS.egressNames }))
        problem([...at, "egress", "allow", index], reason);
      if (sandbox.pids !== undefined) problem([...at, "pids"], KUBERNETES_LIMITS.pids);
      if (sandbox.idleAction === "pause") problem([...at, "idleAction"], KUBERNETES_LIMITS.pause);
    }
  }
  for (const [name, sandbox] of Object.entries(spec.sandboxes))
    checkSandbox(spec, ["sandboxes", name], sandbox, problem);
  for (const [name, pool] of Object.entries(spec.pools))
    checkSandbox(spec, ["pools", name, "template"], pool.template, problem);

  // The API's checks of webhooks, at their places in the file (`webhooks[0].url` is webhooks.0.url).
  for (const found of webhookProblems(spec.webhooks)) problem(apiPropertyPath(found.property), found.reason);

  for (const [name, snapshot] of Object.entries(spec.snapshots)) {
    if (!Object.hasOwn(spec.sandboxes, snapshot.sandbox)) {
      problem(
        ["snapshots", name, "sandbox"],
        `unknown sandbox "${snapshot.sandbox}"${known(Object.keys(spec.sandboxes))}`,
      );
    } else if (snapshotCycle(spec, name)) {
      problem(
        ["snapshots", name, "sandbox"],
        `snapshot "${name}" depends on itself through sandbox "${snapshot.sandbox}"`,
      );
    }
  }
  return problems;
}

type Report = (path: (string | number)[], reason: string, atKey?: boolean) => void;

function checkLocalPath(
  spec: SandfleetSpec,
  at: (string | number)[],
  path: string,
  problem: Report,
  kind?: "file" | "folder",
): void {
  const reason = localPathProblem(spec.dir, path, kind, {
    folder: `the folder of ${spec.file}`,
    relativeTo: spec.file,
  });
  if (reason) problem(at, reason);
}

function checkSandbox(spec: SandfleetSpec, at: (string | number)[], sandbox: SpecSandbox, problem: Report): void {
  if (
    !isImageReference(sandbox.image) &&
    !Object.hasOwn(spec.images, sandbox.image) &&
    !Object.hasOwn(spec.snapshots, sandbox.image)
  ) {
    problem(
      [...at, "image"],
      `unknown image "${sandbox.image}": not an entry of images or snapshots${known([...Object.keys(spec.images), ...Object.keys(spec.snapshots)])}, and not a local reference (those contain '/' or ':')`,
    );
  }
  sandbox.secrets?.forEach((secret, i) => {
    if (!Object.hasOwn(spec.secrets, secret))
      problem([...at, "secrets", i], `unknown secret "${secret}"${known(Object.keys(spec.secrets))}`);
  });
  for (const [mountPath, mount] of Object.entries(sandbox.volumes ?? {})) {
    const volume = typeof mount === "string" ? mount : mount.volume;
    const path = typeof mount === "string" ? [...at, "volumes", mountPath] : [...at, "volumes", mountPath, "volume"];
    if (!Object.hasOwn(spec.volumes, volume))
      problem(path, `unknown volume "${volume}"${known(Object.keys(spec.volumes))}`);
  }
  for (const found of sandboxRuleProblems(spec, at, sandbox)) problem(found.path, found.reason, found.atKey);
}

/** Whether a snapshot's sandbox starts, directly or through other snapshots, from that same snapshot. */
function snapshotCycle(spec: SandfleetSpec, start: string): boolean {
  const seen = new Set<string>();
  let snapshot: string | undefined = start;
  while (snapshot !== undefined && !seen.has(snapshot)) {
    seen.add(snapshot);
    const sandbox: SpecSandbox | undefined = spec.sandboxes[spec.snapshots[snapshot]?.sandbox ?? ""];
    // An image name wins over a snapshot name (and sharing one is reported on its own).
    snapshot =
      sandbox && Object.hasOwn(spec.snapshots, sandbox.image) && !Object.hasOwn(spec.images, sandbox.image)
        ? sandbox.image
        : undefined;
    if (snapshot === start) return true;
  }
  return false;
}

function known(names: string[]): string {
  return names.length ? ` (known: ${names.join(", ")})` : " (none are declared)";
}
