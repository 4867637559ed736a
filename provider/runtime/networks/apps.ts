import type { Engine } from "../../engines/port.ts";
import type { NetworkInfo, VolumeInfo } from "../../engines/port.ts";
import { ConflictError, InvalidArgumentError, NotFoundError } from "../../errors.ts";
import { LABEL, ownershipLabels } from "../engine-state/labels.ts";
import { appBridgeName, appNetworkName, nameProblem, volumeName } from "../engine-state/names.ts";

/**
 * An app's private network, made exactly as the App resource makes it (same
 * name, same labels), so that `pulumi refresh`, `gc` and the App resource see
 * one made at run time as their own. `internet` lets its sandboxes out.
 * Not `internal`: Docker publishes no port of a container on an internal
 * network. What it reaches is decided by the engine host's guard, which
 * knows the network by its bridge's name (network-guard.ts).
 */
export async function createAppNetwork(docker: Engine, app: string, internet: boolean): Promise<string> {
  return docker.networks.create({
    name: appNetworkName(app),
    internal: false,
    masquerade: internet,
    bridge: appBridgeName(app, internet),
    labels: ownershipLabels(app, "network"),
  });
}

/** The app's network, made first when `createIfMissing`; NotFoundError otherwise. */
export async function lookupAppNetwork(
  docker: Engine,
  app: string,
  options: { createIfMissing?: boolean; internet?: boolean },
): Promise<NetworkInfo> {
  const problem = nameProblem(app);
  if (problem) throw new InvalidArgumentError(`invalid app name ${JSON.stringify(app)}: ${problem}`);
  const name = appNetworkName(app);
  const found = await docker.networks.inspect(name);
  if (found) return found;
  if (!options.createIfMissing) {
    throw new NotFoundError(
      `app "${app}" has no network on ${docker.host}; pass { createIfMissing: true } or make the App`,
    );
  }
  try {
    await createAppNetwork(docker, app, options.internet === true);
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error; // made meanwhile by another caller
  }
  const made = await docker.networks.inspect(name);
  if (!made) throw new NotFoundError(`the network of app "${app}" disappeared right after it was made`);
  return made;
}

/**
 * An app's volume, made exactly as the Volume resource makes it when
 * missing. A volume of that Docker name that is not sandfleet's volume of
 * this app and name is never taken.
 */
export async function ensureVolume(
  docker: Engine,
  app: string,
  name: string,
  options: { createIfMissing: boolean },
): Promise<VolumeInfo> {
  for (const [what, value] of [
    ["app", app],
    ["volume", name],
  ] as const) {
    const problem = nameProblem(value);
    if (problem) throw new InvalidArgumentError(`invalid ${what} name ${JSON.stringify(value)}: ${problem}`);
  }
  const dockerName = volumeName(app, name);
  const existing = await docker.volumes.inspect(dockerName);
  const ours =
    existing?.labels[LABEL.managed] === "true" &&
    existing.labels[LABEL.kind] === "volume" &&
    existing.labels[LABEL.app] === app &&
    existing.labels[LABEL.name] === name;
  if (existing && !ours) {
    throw new ConflictError(
      `volume ${dockerName} already exists and is not sandfleet's volume "${name}" of app "${app}"; pick another name`,
    );
  }
  if (existing) return existing;
  if (!options.createIfMissing) {
    throw new NotFoundError(`app "${app}" has no volume "${name}"; pass { createIfMissing: true } or make the Volume`);
  }
  return docker.volumes.create({ name: dockerName, labels: ownershipLabels(app, "volume", { [LABEL.name]: name }) });
}
