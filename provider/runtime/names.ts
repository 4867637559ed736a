import { ruleProblem } from "../rules.ts";

/**
 * Names of apps and sandboxes follow Modal's rules: letters, digits, dashes,
 * periods and underscores, at most 64 characters. They also become parts of
 * Docker object names, which must start with a letter or digit.
 */
export function nameProblem(name: string): string | undefined {
  if (name.length === 0) return "must not be empty";
  return ruleProblem("name", name);
}

export function containerName(app: string, name: string): string {
  return `sandfleet-${app}-${name}`;
}

export function appNetworkName(app: string): string {
  return `sandfleet-${app}`;
}

export function volumeName(app: string, name: string): string {
  return `sandfleet-${app}-${name}`;
}

/** Docker repositories must be lowercase; app and image names need not be. */
export function imageRepository(app: string, name: string): string {
  return `sandfleet/${app.toLowerCase()}/${name.toLowerCase()}`;
}

/** Problems with the `app` and `name` every sandfleet object has, as `{property, reason}`. */
export function identityProblems(params: Readonly<Record<string, unknown>>): { property: string; reason: string }[] {
  return (["app", "name"] as const).flatMap((key) => {
    const value = params[key];
    const reason = typeof value === "string" ? nameProblem(value) : "is required";
    return reason ? [{ property: key, reason }] : [];
  });
}
