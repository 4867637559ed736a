/**
 * The rules every input is held to, each written once. The JSON Schema's
 * `$defs` of the same names are generated from these (`npm run docs`, checked
 * by a test), the schema's error messages take their words from here, and the
 * TypeScript API checks its parameters with the same functions, so the YAML
 * file and the API give one verdict for one mistake.
 */

/** A rule a string must follow: the pattern for the schema, its length bound, and the words for a violation. */
export interface StringRule {
  /** JSON Schema (ECMA-262, `u` flag) pattern. */
  readonly pattern: string;
  readonly maxLength: number;
  /** What a violation is told: "<value> <words>". */
  readonly words: string;
  readonly description: string;
}

// C0 control characters and DEL: newlines, carriage returns and NUL among them.
const CONTROL = "\\u0000-\\u001f\\u007f";
// No empty, '.' or '..' part, and no trailing '/' (but "/" itself).
const NORMALISED = "(?!.*//)(?!(.*/)?\\.\\.?(/|$))(?!.+/$)";

/**
 * The uid the host's connection to a sandbox's supervisor runs as on Docker
 * (`sandfleet-supervisor connect`, an engine exec). The supervisor serves
 * only connections from it, and a sandbox has no capability that would let
 * one of its processes take it, signal it or trace it: so no sandbox may run
 * as it (the `user` rule below; the supervisor also refuses to start as it,
 * for an image whose own USER is this uid).
 */
export const SUPERVISOR_CONTROL_UID = 2_000_000_000;

export const RULES = {
  name: {
    pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
    maxLength: 64,
    words: "must be 1 to 64 letters, digits, '-', '.' or '_', starting with a letter or digit",
    description: "A name: 1 to 64 letters, digits, '-', '.' or '_', starting with a letter or digit.",
  },
  variableName: {
    pattern: "^[A-Za-z_][A-Za-z0-9_]*$",
    maxLength: 256,
    words: "must be a variable name (letters, digits and _, not starting with a digit)",
    description: "An environment variable name.",
  },
  /** Values that reach a process (argv, env): anything but NUL, which would cut them short. */
  text: {
    pattern: "^[^\\u0000]*$",
    maxLength: 65536,
    words: "must not contain a NUL character",
    description: "Text without NUL characters, at most 64 KiB.",
  },
  /**
   * Values written into a Dockerfile line or a label (users, image references,
   * raw instructions, tag values): one line, so that none can start another instruction.
   */
  line: {
    pattern: `^[^${CONTROL}]*$`,
    maxLength: 4096,
    words: "must be one line without control characters (no newline, carriage return or NUL)",
    description: "One line of text without control characters.",
  },
  /**
   * A sandbox's user: one line, and never the host's connection uid, in any
   * spelling the engine reads as that number (`+` and leading zeros included).
   */
  user: {
    pattern: `^(?!\\+?0*${String(SUPERVISOR_CONTROL_UID)}(:|$))[^${CONTROL}]*$`,
    maxLength: 4096,
    words: `must be one line without control characters, and not uid ${String(SUPERVISOR_CONTROL_UID)} (reserved for the host's connection to the supervisor)`,
    description: `A user, by name or uid[:gid]: one line, not uid ${String(SUPERVISOR_CONTROL_UID)}, which sandfleet reserves.`,
  },
  absolutePath: {
    pattern: `^${NORMALISED}/[^${CONTROL}]*$`,
    maxLength: 4096,
    words: "must be a normalised absolute path (start with /, no '//', '.' or '..' parts, no control characters)",
    description: "A normalised absolute path.",
  },
  mountPath: {
    pattern: `^(?!/(proc|sys|dev)(/|$))${NORMALISED}/[^:${CONTROL}]+$`,
    maxLength: 4096,
    words:
      "must be a normalised absolute path other than /, not /proc, /sys or /dev or under them, without ':' or control characters",
    description: "Where a volume is mounted: a normalised absolute path other than /, outside /proc, /sys and /dev.",
  },
  /** Tag keys become parts of label keys (`sandfleet.tag.<key>`). */
  tagKey: {
    pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$",
    maxLength: 63,
    words: "must be 1 to 63 letters, digits, '-', '.' or '_', starting with a letter or digit",
    description: "A tag key.",
  },
  tagValue: {
    pattern: `^[^${CONTROL}]*$`,
    maxLength: 256,
    // The same pattern as `line`, so the same words: the schema's messages find words by pattern.
    words: "must be one line without control characters (no newline, carriage return or NUL)",
    description: "A tag value, at most 256 characters.",
  },
} as const satisfies Record<string, StringRule>;

export type RuleName = keyof typeof RULES;

const compiled = new Map<RuleName, RegExp>();

/** Why the value breaks the rule, or undefined when it keeps it. */
export function ruleProblem(rule: RuleName, value: unknown): string | undefined {
  const { pattern, maxLength, words } = RULES[rule];
  if (typeof value !== "string") return `must be a string, not ${quoted(value)}`;
  if (value.length > maxLength) return `must be at most ${String(maxLength)} characters (has ${String(value.length)})`;
  let regex = compiled.get(rule);
  if (!regex) {
    regex = new RegExp(pattern, "u");
    compiled.set(rule, regex);
  }
  return regex.test(value) ? undefined : words;
}

/** How many entries a file, a section or a list may hold: bounds on what one review can ask the engine to make. */
export const LIMITS = {
  /** Bytes of one sandfleet.yaml. */
  fileBytes: 1024 * 1024,
  /** Nesting depth of a sandfleet.yaml. */
  depth: 32,
  /** Entries of each top-level section (images, volumes, secrets, sandboxes, snapshots, pools). */
  sectionEntries: 200,
  /** Entries of one map of strings (env, tags, a secret's values). */
  mapEntries: 256,
  /** Items of one argv. */
  argvItems: 1024,
  /** Build steps of one image. */
  steps: 256,
  /** Volumes mounted into one sandbox. */
  mounts: 32,
  /** Ports one sandbox publishes. */
  ports: 64,
  /** Warm members of one pool. */
  replicas: 500,
  /** Webhooks of one app. */
  webhooks: 20,
} as const;

/** Memory a sandbox may have, in MiB: Docker's minimum, and 1 TiB. */
export const MEMORY_MIB = { min: 6, max: 1024 * 1024 } as const;

/** Disk of a sandbox's writable layer, in MiB, and the bound a sandbox gets without `disk` where the engine can enforce one. */
export const DISK_MIB = { min: 16, max: 1024 * 1024, default: 10 * 1024 } as const;

/** Bounds of the numbers a sandbox is given, in the units of the TypeScript API. */
export const BOUNDS = {
  /** CPU cores. */
  cpu: { min: 0.01, max: 1024 },
  /** Processes: Linux's own ceiling of pid_max. */
  pids: { min: 1, max: 4_194_304 },
  /** TCP ports. */
  port: { min: 1, max: 65_535 },
  /** Warm members of one pool. */
  replicas: { min: 0, max: LIMITS.replicas },
} as const;

/** Longest lifetime, idle time or readiness wait a sandbox may ask for: 24 hours. */
export const MAX_DURATION_MS = 24 * 60 * 60 * 1000;

/** Durations of a readiness probe, in ms: checks at most an hour apart, a wait of at most 24 hours. */
export const READINESS_MS = {
  interval: { min: 10, max: 60 * 60 * 1000 },
  timeout: { min: 1, max: MAX_DURATION_MS },
} as const;

/** The size a Kubernetes volume claims, in MiB: from 1Mi to 64Ti. */
export const VOLUME_MIB = { min: 1, max: 64 * 1024 * 1024 } as const;

/** A value as a message quotes it (the schema's messages quote values the same way). */
export function quoted(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  return typeof value === "undefined" || typeof value === "function" || typeof value === "symbol"
    ? String(value)
    : JSON.stringify(value);
}

/**
 * Why a number breaks its bounds, in the words the schema's messages use for
 * `type`, `minimum` and `maximum`: a value out of range gets one verdict from
 * sandfleet.yaml and from the TypeScript API.
 */
export function numberProblem(
  value: unknown,
  bounds: { readonly min: number; readonly max: number },
  whole = true,
): string | undefined {
  if (typeof value !== "number" || !Number.isFinite(value) || (whole && !Number.isInteger(value)))
    return `must be ${whole ? "a whole number" : "a number"}, not ${quoted(value)}`;
  if (value < bounds.min) return `must be at least ${String(bounds.min)}, not ${quoted(value)}`;
  if (value > bounds.max) return `must be at most ${String(bounds.max)}, not ${quoted(value)}`;
  return undefined;
}

/** Why a value is not one of a few, in the words the schema's messages use for `enum`. */
export function enumProblem(value: unknown, allowed: readonly unknown[]): string | undefined {
  if (allowed.includes(value)) return undefined;
  return `must be one of ${allowed.map((v) => JSON.stringify(v)).join(", ")}, not ${quoted(value)}`;
}

/** Why a value is not true or false, in the schema's words. */
export function booleanProblem(value: unknown): string | undefined {
  return typeof value === "boolean" ? undefined : `must be true or false, not ${quoted(value)}`;
}

/** MiB as sandfleet.yaml writes a size: 2048 is 2Gi, 100 is 100Mi. */
export function sizeText(mib: number): string {
  return mib % 1024 === 0 && mib > 0 ? `${String(mib / 1024)}Gi` : `${String(mib)}Mi`;
}

/** A size in whole MiB within its bounds, told in sizes as sandfleet.yaml writes them. */
export function sizeProblem(mib: unknown, bounds: { readonly min: number; readonly max: number }): string | undefined {
  if (typeof mib !== "number" || !Number.isInteger(mib)) return `must be a whole number of MiB, not ${quoted(mib)}`;
  if (mib < bounds.min || mib > bounds.max)
    return `must be from ${sizeText(bounds.min)} to ${sizeText(bounds.max)} (is ${sizeText(mib)})`;
  return undefined;
}

/** ms as sandfleet.yaml writes a duration: 90000 is 90s, 3600000 is 1h. */
export function durationText(ms: number): string {
  for (const [unit, size] of [
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ] as const) {
    if (ms > 0 && ms % size === 0) return `${String(ms / size)}${unit}`;
  }
  return `${String(ms)}ms`;
}

/** A duration in whole ms within its bounds, told in durations as sandfleet.yaml writes them. */
export function durationProblem(
  ms: unknown,
  bounds: { readonly min: number; readonly max: number },
): string | undefined {
  if (typeof ms !== "number" || !Number.isInteger(ms)) return `must be a whole number of ms, not ${quoted(ms)}`;
  if (ms < bounds.min || ms > bounds.max)
    return `must be from ${durationText(bounds.min)} to ${durationText(bounds.max)} (is ${durationText(ms)})`;
  return undefined;
}

/**
 * A lifetime or a timeout is whole seconds, as Modal has it: 1500 ms is
 * refused rather than rounded, and 0 or less is never "no timeout".
 */
export function wholeSecondsProblem(value: unknown): string | undefined {
  if (typeof value !== "number" || !Number.isFinite(value)) return "must be a number of ms";
  if (value <= 0) return `must be positive (got ${String(value)})`;
  if (!Number.isInteger(value / 1000)) return `must be a multiple of 1000 ms, whole seconds (got ${String(value)})`;
  if (value > MAX_DURATION_MS) return `must be at most 24h (got ${durationText(value)})`;
  return undefined;
}

/**
 * The start of an app network's bridge name, which says what the engine
 * host's guard (the egress daemon's `supervisor/egress/guard.go`) lets its
 * sandboxes reach: `local`, each other only; `internet`, also the outside
 * through NAT. Shared with the daemon through `supervisor/testdata/guard.json`.
 */
export const APP_BRIDGE_PREFIX = { local: "sfl-", internet: "sfi-" } as const;
