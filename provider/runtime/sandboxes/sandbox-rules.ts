import { imageReferenceProblem } from "../../reference-rules.ts";
/**
 * Every rule a sandbox is held to, semantic rules included, written once:
 * the TypeScript API checks its parameters here, and sandfleet.yaml's checks
 * turn each sandbox and pool template into these same parameters and ask
 * here too (spec/sandbox-check.ts), so one mistake gets one verdict in one
 * wording through either door.
 */
import { dockerHostProblem } from "../../addresses.ts";
import { kubernetesTargetProblems } from "../../engines/engine-rules.ts";
import { egressEntryProblem, egressSettingProblems, MAX_EGRESS_ENTRIES } from "../networks/egress-rules.ts";
import {
  booleanProblem,
  BOUNDS,
  DISK_MIB,
  enumProblem,
  durationProblem,
  LIMITS,
  MEMORY_MIB,
  numberProblem,
  READINESS_MS,
  ruleProblem,
  sizeProblem,
  wholeSecondsProblem,
  type RuleName,
} from "../../rules.ts";
import { nameProblem } from "../engine-state/names.ts";

export interface PropertyProblem {
  property: string;
  reason: string;
}

/** The words of each semantic rule, said the same way by the API and by sandfleet.yaml. */
export const SANDBOX_RULE_WORDS = {
  runscNetwork: "runsc (gVisor) is registered without networking on this engine; use runc for a networked sandbox",
  portsNeedNetwork: 'publishing ports needs network: "app" (or an egress allowlist)',
  oneProbe: "needs exactly one probe: a TCP port or an exec command",
  pauseNeedsIdle: "pause needs an idle timeout, after which the sandbox is paused",
  envAndSecret: "is also set by a secret; set it in one place",
  // The schema's words for uniqueItems.
  portTwice: "lists an entry twice",
  probeNotPublished: (port: number) => `port ${String(port)} is not among the sandbox's ports`,
} as const;

const IDLE_ACTIONS: readonly unknown[] = ["terminate", "pause"];
const NETWORKS: readonly unknown[] = ["none", "app"];
const RUNTIMES: readonly unknown[] = ["runc", "runsc"];

/** Every problem with the parameters, one per property, before anything touches the engine. */
export function sandboxParamsProblems(params: Readonly<Record<string, unknown>>): PropertyProblem[] {
  const problems: PropertyProblem[] = [];
  const problem = (property: string, reason: string | undefined) => {
    if (reason) problems.push({ property, reason });
  };
  const ruled = (property: string, rule: RuleName, value: unknown) => {
    problem(property, ruleProblem(rule, value));
  };

  if (typeof params.app !== "string") problem("app", "is required");
  else problem("app", nameProblem(params.app));
  if (params.image === undefined) problem("image", "is required");
  else if (params.image === "") problem("image", "must not be empty");
  else if (ruleProblem("line", params.image)) ruled("image", "line", params.image);
  else {
    // A reference by Docker's grammar, in ASCII: what the engine is asked for is what a reader sees.
    const reason = imageReferenceProblem(params.image);
    if (reason) problem("image", reason);
  }
  if (params.name !== undefined)
    problem("name", typeof params.name === "string" ? nameProblem(params.name) : "must be a string");
  for (const key of ["command", "entrypoint"] as const) {
    if (params[key] !== undefined) problems.push(...argvProblems(key, params[key]));
  }
  if (params.workdir !== undefined) ruled("workdir", "absolutePath", params.workdir);
  if (params.user === "") problem("user", "must not be empty");
  else if (params.user !== undefined) ruled("user", "user", params.user);
  for (const key of ["supervisor", "readOnlyRootfs"] as const) {
    if (params[key] !== undefined) problem(key, booleanProblem(params[key]));
  }
  if (params.cpu !== undefined) problem("cpu", numberProblem(params.cpu, BOUNDS.cpu, false));
  if (params.memoryMiB !== undefined) problem("memoryMiB", sizeProblem(params.memoryMiB, MEMORY_MIB));
  if (params.diskMiB !== undefined) problem("diskMiB", sizeProblem(params.diskMiB, DISK_MIB));
  if (params.pidsLimit !== undefined) problem("pidsLimit", numberProblem(params.pidsLimit, BOUNDS.pids));
  if (params.network !== undefined) problem("network", enumProblem(params.network, NETWORKS));
  if (params.runtime !== undefined) problem("runtime", enumProblem(params.runtime, RUNTIMES));
  if (params.runtime === "runsc" && params.network === "app") problem("runtime", SANDBOX_RULE_WORDS.runscNetwork);
  problems.push(
    ...mapProblems("env", params.env, "variableName", "text"),
    ...mapProblems("tags", params.tags, "tagKey", "tagValue"),
    ...egressProblems(params.egress, params.network, params.runtime),
    ...mountProblems(params.volumes),
    ...portProblems(params.ports, params.egress !== undefined ? "egress" : params.network),
  );
  if (params.readiness !== undefined) problems.push(...readinessProblems(params.readiness, params.ports));
  for (const key of ["timeoutMs", "idleTimeoutMs"] as const) {
    if (params[key] !== undefined) problem(key, wholeSecondsProblem(params[key]));
  }
  if (params.idleAction !== undefined && !IDLE_ACTIONS.includes(params.idleAction)) {
    problem("idleAction", enumProblem(params.idleAction, IDLE_ACTIONS));
  } else if (params.idleAction === "pause" && params.idleTimeoutMs === undefined) {
    problem("idleAction", SANDBOX_RULE_WORDS.pauseNeedsIdle);
  }
  // Values are never named in a message: they are secrets (and mapProblems names none).
  problems.push(...mapProblems("secretEnv", params.secretEnv, "variableName", "text"));
  const { env, secretEnv } = params;
  if (isStringMap(env) && isStringMap(secretEnv)) {
    for (const k of Object.keys(secretEnv)) {
      if (Object.hasOwn(env, k)) problem(`env.${k}`, SANDBOX_RULE_WORDS.envAndSecret);
    }
  }
  if (params.dockerHost !== undefined) problem("dockerHost", dockerHostProblem(params.dockerHost));
  if (params.kubernetes !== undefined) {
    for (const p of kubernetesTargetProblems(params.kubernetes))
      problems.push({ property: `kubernetes${p.property ? `.${p.property}` : ""}`, reason: p.reason });
  }
  return problems;
}

function isStringMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A map of strings: its size, each key by one rule and each value by another. */
export function mapProblems(property: string, map: unknown, keyRule: RuleName, valueRule: RuleName): PropertyProblem[] {
  // A secret's value is never quoted, not even a wrong one.
  const secret = property === "secretEnv";
  if (map === undefined) return [];
  if (!isStringMap(map)) return [{ property, reason: "must be a map of strings" }];
  const entries = Object.entries(map);
  if (entries.length > LIMITS.mapEntries) {
    return [
      { property, reason: `must have at most ${String(LIMITS.mapEntries)} entries (has ${String(entries.length)})` },
    ];
  }
  return entries.flatMap(([k, v]) => {
    const reason =
      ruleProblem(keyRule, k) ?? (typeof v === "string" || !secret ? ruleProblem(valueRule, v) : "must be a string");
    return reason ? [{ property: `${property}.${k}`, reason }] : [];
  });
}

/** A command line as a list: not empty, not too long, no NUL in any item. */
export function argvProblems(property: string, argv: unknown): PropertyProblem[] {
  if (!Array.isArray(argv) || argv.length === 0) return [{ property, reason: "must be a non-empty list of strings" }];
  if (argv.length > LIMITS.argvItems) {
    return [{ property, reason: `must have at most ${String(LIMITS.argvItems)} items (has ${String(argv.length)})` }];
  }
  return argv.flatMap((item: unknown, i) => {
    const reason = ruleProblem("text", item);
    return reason ? [{ property: `${property}[${String(i)}]`, reason }] : [];
  });
}

function mountProblems(volumes: unknown): PropertyProblem[] {
  if (volumes === undefined) return [];
  if (!Array.isArray(volumes)) return [{ property: "volumes", reason: "must be a list of mounts" }];
  if (volumes.length > LIMITS.mounts) {
    // "entries", as sandfleet.yaml has mounts in a map.
    const reason = `must have at most ${String(LIMITS.mounts)} entries (has ${String(volumes.length)})`;
    return [{ property: "volumes", reason }];
  }
  const problems: PropertyProblem[] = [];
  const seen = new Set<string>();
  volumes.forEach((mount: Record<string, unknown> | null, i) => {
    const at = `volumes[${String(i)}]`;
    const pathProblem = ruleProblem("mountPath", mount?.mountPath);
    if (pathProblem || typeof mount?.mountPath !== "string") {
      problems.push({ property: `${at}.mountPath`, reason: pathProblem ?? "must be a string" });
    } else if (seen.has(mount.mountPath)) {
      problems.push({ property: `${at}.mountPath`, reason: `${mount.mountPath} is mounted twice` });
    } else seen.add(mount.mountPath);
    if (typeof mount?.volume !== "string" || mount.volume === "") {
      problems.push({ property: `${at}.volume`, reason: "must name a volume" });
    }
    const readOnly = mount?.readOnly === undefined ? undefined : booleanProblem(mount.readOnly);
    if (readOnly) problems.push({ property: `${at}.readOnly`, reason: readOnly });
    if (mount?.subPath !== undefined) {
      const sub = mount.subPath;
      const reason =
        typeof sub !== "string" || sub === "" || sub.startsWith("/")
          ? "must be a relative path inside the volume"
          : ruleProblem("absolutePath", `/${sub}`);
      if (reason) problems.push({ property: `${at}.subPath`, reason });
    }
  });
  return problems;
}

function portProblems(ports: unknown, network: unknown): PropertyProblem[] {
  if (ports === undefined) return [];
  if (!Array.isArray(ports)) return [{ property: "ports", reason: "must be a list of port numbers" }];
  if (ports.length > LIMITS.ports) {
    return [
      { property: "ports", reason: `must have at most ${String(LIMITS.ports)} items (has ${String(ports.length)})` },
    ];
  }
  const problems: PropertyProblem[] = [];
  ports.forEach((port: unknown, i) => {
    const reason = numberProblem(port, BOUNDS.port);
    if (reason) problems.push({ property: `ports[${String(i)}]`, reason });
  });
  if (new Set(ports).size !== ports.length) problems.push({ property: "ports", reason: SANDBOX_RULE_WORDS.portTwice });
  if (ports.length > 0 && network !== "app" && network !== "egress") {
    problems.push({ property: "ports", reason: SANDBOX_RULE_WORDS.portsNeedNetwork });
  }
  return problems;
}

function egressProblems(egress: unknown, network: unknown, runtime: unknown): PropertyProblem[] {
  if (egress === undefined) return [];
  const allow = typeof egress === "object" && egress !== null ? (egress as { allow?: unknown }).allow : undefined;
  if (!Array.isArray(allow)) return [{ property: "egress", reason: "must be { allow: [...] }" }];
  const problems: PropertyProblem[] = [];
  if (allow.length > MAX_EGRESS_ENTRIES)
    problems.push({
      property: "egress.allow",
      reason: `must have at most ${String(MAX_EGRESS_ENTRIES)} items (has ${String(allow.length)})`,
    });
  allow.forEach((entry: unknown, i) => {
    const reason = egressEntryProblem(entry);
    if (reason) problems.push({ property: `egress.allow[${String(i)}]`, reason });
  });
  for (const reason of egressSettingProblems(network, runtime)) problems.push({ property: "egress", reason });
  return problems;
}

/**
 * A probe checks a port inside the sandbox, so a TCP probe needs no published
 * port; but a sandbox that publishes ports is probed on one of them.
 */
function readinessProblems(readiness: unknown, ports: unknown): PropertyProblem[] {
  if (typeof readiness !== "object" || readiness === null) return [{ property: "readiness", reason: "must be a map" }];
  const r = readiness as Record<string, unknown>;
  const problems: PropertyProblem[] = [];
  const problem = (property: string, reason: string | undefined) => {
    if (reason) problems.push({ property, reason });
  };
  if ((r.tcpPort === undefined) === (r.exec === undefined)) problem("readiness", SANDBOX_RULE_WORDS.oneProbe);
  if (r.tcpPort !== undefined) {
    const reason = numberProblem(r.tcpPort, BOUNDS.port);
    if (reason) problem("readiness.tcpPort", reason);
    else if (Array.isArray(ports) && ports.length > 0 && !ports.includes(r.tcpPort))
      problem("readiness.tcpPort", SANDBOX_RULE_WORDS.probeNotPublished(r.tcpPort as number));
  }
  if (r.exec !== undefined) problems.push(...argvProblems("readiness.exec", r.exec));
  if (r.intervalMs !== undefined) problem("readiness.intervalMs", durationProblem(r.intervalMs, READINESS_MS.interval));
  if (r.timeoutMs !== undefined) problem("readiness.timeoutMs", durationProblem(r.timeoutMs, READINESS_MS.timeout));
  return problems;
}
