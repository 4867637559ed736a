import { sha256Hex } from "../../digest.ts";
import { APP_BRIDGE_PREFIX, ruleProblem } from "../../rules.ts";

/**
 * Names of apps and sandboxes follow Modal's rules: letters, digits, dashes,
 * periods and underscores, at most 64 characters. They also become parts of
 * Docker object names, which must start with a letter or digit.
 */
export function nameProblem(name: string): string | undefined {
  if (name.length === 0) return "must not be empty";
  return ruleProblem("name", name);
}

/*
 * Docker names of what sandfleet makes. Names may hold every character a
 * Docker name may ('-', '.', '_'), so joining an app and a name with '-'
 * alone is ambiguous ("a-b" + "c" and "a" + "b-c"), and a sandbox named like
 * a pool member, or a volume named like a pool's record, would take the
 * other's place. Each name therefore says its kind by a code, and the app's
 * length before the app:
 *
 *   sandfleet-<kind>-<length of app>-<app>-<name>
 *
 * Read from the left, the kind code ends at the first '-', the length at the
 * next, the app after exactly that many characters, and the rest is the
 * name: two different (kind, app, name) never give one Docker name.
 */
const KIND_CODES = {
  sandbox: "sb",
  member: "pm",
  volume: "vol",
  pool: "pool",
  claim: "claim",
  tags: "tags",
  deadline: "deadline",
  webhooks: "hooks",
  connect: "connect",
  egress: "egress",
  lock: "lock",
} as const;

export type NamedKind = keyof typeof KIND_CODES;

export function objectName(kind: NamedKind, app: string, name: string): string {
  return `sandfleet-${KIND_CODES[kind]}-${String(app.length)}-${app}-${name}`;
}

/** The (kind, app, name) a Docker name stands for, or undefined when sandfleet did not make it. */
export function parseObjectName(dockerName: string): { kind: NamedKind; app: string; name: string } | undefined {
  const match = /^sandfleet-([a-z]+)-(\d+)-/.exec(dockerName);
  if (!match) return undefined;
  const kind = (Object.keys(KIND_CODES) as NamedKind[]).find((k) => KIND_CODES[k] === match[1]);
  const length = Number(match[2]);
  const rest = dockerName.slice(match[0].length);
  if (!kind || rest.length < length + 2 || rest[length] !== "-") return undefined;
  return { kind, app: rest.slice(0, length), name: rest.slice(length + 1) };
}

export function containerName(app: string, name: string): string {
  return objectName("sandbox", app, name);
}

/** One network per app: app names are unique, so the app alone names it. */
export function appNetworkName(app: string): string {
  return `sandfleet-${app}`;
}

/**
 * The host bridge of an app's network: a prefix the engine host's guard
 * matches (what the network may reach), then a hash of the network's name,
 * within the kernel's 15 bytes.
 */
export function appBridgeName(app: string, internet: boolean): string {
  const prefix = internet ? APP_BRIDGE_PREFIX.internet : APP_BRIDGE_PREFIX.local;
  return prefix + sha256Hex(appNetworkName(app)).slice(0, 15 - prefix.length);
}

export function volumeName(app: string, name: string): string {
  return objectName("volume", app, name);
}

/**
 * Docker repositories must be lowercase; app and image names need not be.
 * Names that lose capitals on the way get one more path part, a hash of the
 * exact names, so that "Tools" and "tools" stay two images.
 */
export function imageRepository(app: string, name: string): string {
  const lower = `sandfleet/${app.toLowerCase()}/${name.toLowerCase()}`;
  if (app === app.toLowerCase() && name === name.toLowerCase()) return lower;
  return `${lower}/c${sha256Hex(`${app}/${name}`).slice(0, 12)}`;
}

/** Problems with the `app` and `name` every sandfleet object has, as `{property, reason}`. */
export function identityProblems(params: Readonly<Record<string, unknown>>): { property: string; reason: string }[] {
  return (["app", "name"] as const).flatMap((key) => {
    const value = params[key];
    const reason = typeof value === "string" ? nameProblem(value) : "is required";
    return reason ? [{ property: key, reason }] : [];
  });
}
