/**
 * Policy: rules a platform team states as data, which every sandfleet.yaml
 * must follow. A rule has a name, a level (error or warning), an optional
 * `when` (tags that select sandboxes and pools) and exactly one check. Each
 * violation is reported at the place in sandfleet.yaml that breaks it, with
 * the rule's name.
 */
import { allowlistReach } from "../runtime/networks/egress-rules.ts";
import { SANDBOX_DEFAULTS } from "../runtime/sandboxes/sandbox-params.ts";
import { fleetDemand, fleetUnits, memberUsage } from "./fleet.ts";
import { globMatches } from "./glob.ts";
import { imageSources } from "./image-sources.ts";
import { compareIssues, type SpecIssue } from "./issues.ts";
import { dottedPath, type PathSegment } from "./positions.ts";
import { policySchemaValidator } from "./schema.ts";
import type { SandfleetSpec, SpecSandbox } from "./types.ts";
import { parseSizeMiB } from "./units.ts";
import { readFileText, readYaml, schemaIssues, type YamlSource } from "./yaml-source.ts";

export interface PolicyLimits {
  cpu?: number;
  memory?: string;
  disk?: string;
  pids?: number;
  replicas?: number;
}

export interface PolicyRule {
  name: string;
  level?: "error" | "warning";
  when?: { tags?: Record<string, string> };
  runtime?: "runc" | "runsc";
  internet?: false;
  max?: PolicyLimits;
  maxPerApp?: PolicyLimits;
  images?: string[];
  requiredTags?: string[];
}

export interface Policy {
  file: string;
  rules: PolicyRule[];
  /** Lets a kubeconfig named by sandfleet.yaml run credential plugins (exec, auth-provider) on the deploying machine. */
  allowKubeconfigExec?: boolean;
}

/** The policy a spec follows when none is named: this file, if it is there. */
export const POLICY_FILE = "sandfleet.policy.yaml";

const CHECKS = ["runtime", "internet", "max", "maxPerApp", "images", "requiredTags"] as const;

export type PolicyLoad = { policy: Policy; issues: [] } | { policy: undefined; issues: SpecIssue[] };

/** Parses and checks a policy file; every problem at its line and column. */
export function loadPolicy(text: string | Uint8Array, file: string): PolicyLoad {
  const read = readYaml(text, file);
  if (!read.source) return { policy: undefined, issues: read.issues };
  const invalid = schemaIssues(policySchemaValidator(), read.source);
  if (invalid.length > 0) return { policy: undefined, issues: invalid };
  const { rules, allowKubeconfigExec } = read.source.data as { rules: PolicyRule[]; allowKubeconfigExec?: boolean };
  const issues: SpecIssue[] = [];
  const names = new Set<string>();
  for (const [index, rule] of rules.entries()) {
    const checks = CHECKS.filter((check) => rule[check] !== undefined);
    const problem = (reason: string, path: PathSegment[] = ["rules", index]) =>
      issues.push({ file, ...read.source.at(path), path: dottedPath(path), reason });
    if (checks.length !== 1) {
      problem(
        checks.length === 0
          ? `has no check; give it one of ${CHECKS.join(", ")}`
          : `has ${String(checks.length)} checks (${checks.join(", ")}); give each its own rule`,
      );
    }
    if (names.has(rule.name)) problem(`is a second rule named "${rule.name}"`, ["rules", index, "name"]);
    names.add(rule.name);
    if (rule.when && (rule.internet !== undefined || rule.maxPerApp !== undefined)) {
      problem("`when` selects sandboxes and pools; internet and maxPerApp apply to the whole app", [
        "rules",
        index,
        "when",
      ]);
    }
  }
  if (issues.length > 0) return { policy: undefined, issues: issues.sort(compareIssues) };
  return { policy: { file, rules, ...(allowKubeconfigExec === true ? { allowKubeconfigExec } : {}) }, issues: [] };
}

export function loadPolicyFile(path: string, displayName: string = path): PolicyLoad {
  const read = readFileText(path, displayName);
  return "issue" in read ? { policy: undefined, issues: [read.issue] } : loadPolicy(read.text, displayName);
}

function sizeLimit(text: string | undefined): number | undefined {
  return text === undefined ? undefined : parseSizeMiB(text);
}

/** A tag the sandbox has itself: never a name its tags object inherits (`constructor`, `toString`). */
function tagOf(sandbox: SpecSandbox, key: string): string | undefined {
  return sandbox.tags && Object.hasOwn(sandbox.tags, key) ? sandbox.tags[key] : undefined;
}

function tagged(sandbox: SpecSandbox, tags: Record<string, string> | undefined): boolean {
  return Object.entries(tags ?? {}).every(([key, value]) => tagOf(sandbox, key) === value);
}

/** An allowlist that opens this many addresses or more (a /8) is the internet, for `internet: false`. */
const INTERNET_ADDRESSES = 2 ** 24;

function describeTags(tags: Record<string, string>): string {
  return Object.entries(tags)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
}

/** Every violation of the policy by the spec, at its place in the spec's file. */
export function checkPolicy(policy: Policy, spec: SandfleetSpec, source: YamlSource): SpecIssue[] {
  const issues: SpecIssue[] = [];
  for (const rule of policy.rules) {
    const level = rule.level ?? "error";
    const violation = (path: PathSegment[], reason: string, atKey = false) =>
      issues.push({
        file: spec.file,
        ...source.at(path, atKey),
        path: dottedPath(path),
        reason: `${reason} (policy rule "${rule.name}")`,
        severity: level,
        rule: rule.name,
      });
    const units = fleetUnits(spec).filter((unit) => tagged(unit.sandbox, rule.when?.tags));
    const scope = rule.when?.tags ? ` for sandboxes tagged ${describeTags(rule.when.tags)}` : "";

    if (rule.runtime) {
      for (const unit of units) {
        const runtime = unit.sandbox.runtime ?? SANDBOX_DEFAULTS.runtime;
        if (runtime !== rule.runtime) {
          const path = unit.sandbox.runtime ? [...unit.path, "runtime"] : unit.path;
          violation(path, `runtime must be ${rule.runtime}${scope} (is ${runtime})`, !unit.sandbox.runtime);
        }
      }
    }
    if (rule.internet === false && spec.internet === true) {
      violation(["internet"], "internet: true is not allowed");
    }
    if (rule.internet === false) {
      // A build with the network reaches the internet as surely as a sandbox does.
      for (const [name, image] of Object.entries(spec.images)) {
        if (image.network === true) {
          violation(["images", name, "network"], "builds with the network (network: true); internet is not allowed");
        }
      }
      // An allowlist is another way to the internet: one that opens (nearly) all of it is refused too.
      for (const unit of units) {
        const allow = unit.sandbox.egress?.allow ?? [];
        const reach = allowlistReach(allow);
        if (reach.addresses >= INTERNET_ADDRESSES) {
          violation(
            [...unit.path, "egress", "allow"],
            `the allowlist opens ${String(reach.addresses)} IPv4 addresses in all (a /8 or more counts as the internet); internet is not allowed`,
          );
        }
        for (const wildcard of reach.topLevelWildcards) {
          violation(
            [...unit.path, "egress", "allow", allow.indexOf(wildcard)],
            `${JSON.stringify(wildcard)} opens every name under a top-level domain, which is the internet; internet is not allowed`,
          );
        }
      }
    }
    if (rule.max) {
      const max = rule.max;
      for (const unit of units) {
        const used = memberUsage(unit.sandbox);
        const over = (
          key: "cpu" | "memory" | "disk" | "pids",
          have: number,
          limit: number | undefined,
          unit_: string,
        ) => {
          if (limit === undefined || have <= limit) return;
          const specKey = key;
          const written = unit.sandbox[specKey] !== undefined;
          violation(
            written ? [...unit.path, specKey] : unit.path,
            `${key} must be at most ${String(limit)}${unit_}${scope} (is ${String(have)}${unit_}${written ? "" : ", the default"})`,
            !written,
          );
        };
        over("cpu", used.cpus, max.cpu, "");
        over("memory", used.memoryMiB, sizeLimit(max.memory), " MiB");
        over("disk", used.diskMiB, sizeLimit(max.disk), " MiB");
        over("pids", used.pids, max.pids, "");
        if (max.replicas !== undefined && unit.poolPath && unit.count > max.replicas) {
          violation(
            [...unit.poolPath, "replicas"],
            `replicas must be at most ${String(max.replicas)}${scope} (is ${String(unit.count)})`,
          );
        }
      }
    }
    if (rule.maxPerApp) {
      const max = rule.maxPerApp;
      const total = fleetDemand(units);
      const over = (what: string, have: number, limit: number | undefined, suffix: string) => {
        if (limit !== undefined && have > limit) {
          violation(
            ["app"],
            `app "${spec.app}" may have at most ${String(limit)}${suffix} of ${what} in all (has ${String(have)}${suffix})`,
          );
        }
      };
      over("cpu", total.cpus, max.cpu, "");
      over("memory", total.memoryMiB, sizeLimit(max.memory), " MiB");
      over("disk", total.diskMiB, sizeLimit(max.disk), " MiB");
      over("pids", total.pids, max.pids, "");
      over("sandboxes (replicas included)", total.sandboxes, max.replicas, "");
    }
    if (rule.images) {
      const allowed = rule.images;
      for (const source of imageSources(spec, units)) {
        if (source.problem) violation(source.path, `${source.what}: ${source.problem}`);
        else if (!allowed.some((pattern) => globMatches(pattern, source.image))) {
          violation(
            source.path,
            `${source.what} "${source.image}" is not one of the allowed images: ${allowed.join(", ")}`,
          );
        }
      }
    }
    if (rule.requiredTags) {
      for (const unit of units) {
        const missing = rule.requiredTags.filter((key) => tagOf(unit.sandbox, key) === undefined);
        if (missing.length > 0) {
          const path = unit.sandbox.tags ? [...unit.path, "tags"] : unit.path;
          violation(
            path,
            `must have the tag${missing.length > 1 ? "s" : ""} ${missing.join(", ")}${scope}`,
            !unit.sandbox.tags,
          );
        }
      }
    }
  }
  return issues.sort(compareIssues);
}
