import { KUBERNETES_LIMITS } from "../engines/kubernetes/limits.ts";
import { egressEntryProblem, egressSettingProblems } from "../runtime/egress-rules.ts";
import { urlProblem } from "../runtime/webhooks.ts";
import { localPathProblem } from "../local-paths.ts";
import { DISK_MIB, MEMORY_MIB } from "../rules.ts";
import { MAX_DURATION_MS } from "../runtime/sandbox-params.ts";
import type { SchemaProblem } from "./schema-errors.ts";
import { isImageReference } from "./to-params.ts";
import type { SandfleetSpec, SpecSandbox } from "./types.ts";
import { parseDuration, parseSizeMiB } from "./units.ts";

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

  if (spec.kubernetes) {
    if (spec.dockerHost !== undefined) problem(["kubernetes"], KUBERNETES_LIMITS.engines, true);
    for (const name of Object.keys(spec.snapshots)) problem(["snapshots", name], KUBERNETES_LIMITS.snapshot, true);
    const templates = [
      ...Object.entries(spec.sandboxes).map(([name, s]) => [["sandboxes", name], s] as const),
      ...Object.entries(spec.pools).map(([name, p]) => [["pools", name, "template"], p.template] as const),
    ];
    for (const [at, sandbox] of templates) {
      if (sandbox.egress) problem([...at, "egress"], KUBERNETES_LIMITS.egress, true);
      if (sandbox.idleAction === "pause") problem([...at, "idleAction"], KUBERNETES_LIMITS.pause);
    }
  }
  for (const [name, sandbox] of Object.entries(spec.sandboxes))
    checkSandbox(spec, ["sandboxes", name], sandbox, problem);
  for (const [name, pool] of Object.entries(spec.pools))
    checkSandbox(spec, ["pools", name, "template"], pool.template, problem);

  spec.webhooks.forEach((hook, i) => {
    const reason = urlProblem(hook.url);
    if (reason) problem(["webhooks", i, "url"], reason);
  });

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
  if (sandbox.memory !== undefined) {
    const mib = parseSizeMiB(sandbox.memory) ?? 0;
    if (mib < MEMORY_MIB.min || mib > MEMORY_MIB.max)
      problem([...at, "memory"], `${sandbox.memory} is outside 6Mi to 1024Gi`);
  }
  if (sandbox.disk !== undefined) {
    const mib = parseSizeMiB(sandbox.disk) ?? 0;
    if (mib < DISK_MIB.min || mib > DISK_MIB.max) problem([...at, "disk"], `${sandbox.disk} is outside 16Mi to 1024Gi`);
  }
  for (const key of ["timeout", "idleTimeout"] as const) {
    const value = sandbox[key];
    if (value !== undefined && (parseDuration(value) ?? 0) > MAX_DURATION_MS)
      problem([...at, key], `${value} is longer than 24h`);
    if (value !== undefined && (parseDuration(value) ?? 0) < 1000) problem([...at, key], `${value} is shorter than 1s`);
  }
  sandbox.egress?.allow.forEach((entry, i) => {
    const reason = egressEntryProblem(entry);
    if (reason) problem([...at, "egress", "allow", i], reason);
  });
  if (sandbox.egress)
    for (const reason of egressSettingProblems(sandbox.network, sandbox.runtime)) problem([...at, "egress"], reason);
  if (sandbox.idleAction === "pause" && sandbox.idleTimeout === undefined)
    problem([...at, "idleAction"], "pause needs an idleTimeout, after which the sandbox is paused");
  const readiness = sandbox.readiness;
  if (readiness) {
    if ((readiness.tcp === undefined) === (readiness.exec === undefined)) {
      problem([...at, "readiness"], "needs exactly one of tcp or exec");
    }
    if (readiness.tcp !== undefined && !(sandbox.ports ?? []).includes(readiness.tcp)) {
      problem(
        [...at, "readiness", "tcp"],
        `port ${String(readiness.tcp)} is not among the sandbox's ports [${(sandbox.ports ?? []).join(", ")}]`,
      );
    }
    if (readiness.timeout !== undefined && (parseDuration(readiness.timeout) ?? 0) > MAX_DURATION_MS) {
      problem([...at, "readiness", "timeout"], `${readiness.timeout} is longer than 24h`);
    }
    if (readiness.interval !== undefined && (parseDuration(readiness.interval) ?? 0) < 10) {
      problem([...at, "readiness", "interval"], `${readiness.interval} is shorter than 10ms`);
    }
  }
  if ((sandbox.ports?.length ?? 0) > 0 && sandbox.network !== "app" && !sandbox.egress) {
    problem([...at, "ports"], "publishing ports needs network: app (or an egress allowlist)");
  }
  if (sandbox.runtime === "runsc" && sandbox.network === "app") {
    problem([...at, "runtime"], "runsc runs without networking here; use runc for a sandbox with network: app");
  }
  const secretKeys = (sandbox.secrets ?? []).flatMap((s) => Object.keys(spec.secrets[s]?.values ?? {}));
  for (const key of Object.keys(sandbox.env ?? {})) {
    if (secretKeys.includes(key))
      problem([...at, "env", key], `${key} is also set by one of the sandbox's secrets`, true);
  }
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
