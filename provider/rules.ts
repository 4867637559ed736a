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
  if (typeof value !== "string") return "must be a string";
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
} as const;

/** Memory a sandbox may have, in MiB: Docker's minimum, and 1 TiB. */
export const MEMORY_MIB = { min: 6, max: 1024 * 1024 } as const;

/** Disk of a sandbox's writable layer, in MiB, and the bound a sandbox gets without `disk` where the engine can enforce one. */
export const DISK_MIB = { min: 16, max: 1024 * 1024, default: 10 * 1024 } as const;
