import * as pulumi from "@pulumi/pulumi";
import { App } from "../resources/app.ts";
import { Image } from "../resources/image.ts";
import { SandboxPool } from "../resources/pool.ts";
import { Sandbox } from "../resources/sandbox.ts";
import { Secret } from "../resources/secret.ts";
import { Snapshot } from "../resources/snapshot.ts";
import { Volume } from "../resources/volume.ts";
import type { ImageInput, VolumeMountInput } from "../resources/inputs.ts";
import { isImageReference, sandboxParamsFromSpec, specEngine } from "./to-params.ts";
import type { SandfleetSpec, SecretSource, SpecSandbox } from "./types.ts";

export interface DeployedSpec {
  app: App;
  images: Record<string, Image>;
  volumes: Record<string, Volume>;
  secrets: Record<string, Secret>;
  sandboxes: Record<string, Sandbox>;
  snapshots: Record<string, Snapshot>;
  pools: Record<string, SandboxPool>;
}

/**
 * Turns a validated spec into Pulumi resources named after the spec's own
 * names. Sandboxes and snapshots can feed each other, so each is made when
 * first needed; the spec's validation has ruled out cycles.
 */
export function deploySpec(spec: SandfleetSpec, config: pulumi.Config = new pulumi.Config()): DeployedSpec {
  const engine = specEngine(spec);
  const app = new App(spec.app, {
    name: spec.app,
    internet: spec.internet ?? false,
    webhooks: spec.webhooks,
    ...engine,
  });
  const owned = { app, ...engine };

  const images = mapValues(
    spec.images,
    (image, name) =>
      new Image(`image-${name}`, {
        ...owned,
        name,
        ...(image.ref !== undefined ? { ref: image.ref } : {}),
        ...(image.base !== undefined ? { base: image.base, steps: image.steps ?? [] } : {}),
        ...(image.dockerfile ? { dockerfile: image.dockerfile } : {}),
        network: image.network ?? false,
        sourceDir: spec.dir,
      }),
  );
  const volumes = mapValues(
    spec.volumes,
    (volume, name) => new Volume(`volume-${name}`, { ...owned, name, retainOnDelete: volume.retainOnDelete ?? false }),
  );
  const secrets = mapValues(
    spec.secrets,
    (secret, name) =>
      new Secret(`secret-${name}`, {
        app,
        name,
        values: Object.fromEntries(
          Object.entries(secret.values).map(([key, source]) => [
            key,
            secretValue(config, `secrets.${name}.values.${key}`, source),
          ]),
        ),
      }),
  );

  const sandboxes: Record<string, Sandbox> = {};
  const snapshots: Record<string, Snapshot> = {};
  const imageOf = (image: string): ImageInput => {
    if (isImageReference(image)) return image;
    const built = images[image];
    return built ?? snapshotNamed(image);
  };
  const sandboxArgs = (sandbox: SpecSandbox) => ({
    ...sandboxParamsFromSpec(spec, sandbox),
    image: imageOf(sandbox.image),
    secrets: (sandbox.secrets ?? []).map((s) => required(secrets[s], `secret ${s}`)),
    volumes: Object.fromEntries(
      Object.entries(sandbox.volumes ?? {}).map(([path, mount]): [string, VolumeMountInput] =>
        typeof mount === "string"
          ? [path, required(volumes[mount], `volume ${mount}`)]
          : [
              path,
              { volume: required(volumes[mount.volume], `volume ${mount.volume}`), readOnly: mount.readOnly ?? false },
            ],
      ),
    ),
  });
  const sandboxNamed = (name: string): Sandbox => {
    const existing = sandboxes[name];
    if (existing) return existing;
    const made = new Sandbox(`sandbox-${name}`, {
      ...owned,
      name,
      ...sandboxArgs(required(spec.sandboxes[name], `sandbox ${name}`)),
    });
    sandboxes[name] = made;
    return made;
  };
  function snapshotNamed(name: string): Snapshot {
    const existing = snapshots[name];
    if (existing) return existing;
    const snapshot = required(spec.snapshots[name], `snapshot ${name}`);
    const made = new Snapshot(`snapshot-${name}`, { ...owned, name, sandbox: sandboxNamed(snapshot.sandbox) });
    snapshots[name] = made;
    return made;
  }
  for (const name of Object.keys(spec.sandboxes)) sandboxNamed(name);
  for (const name of Object.keys(spec.snapshots)) snapshotNamed(name);

  const pools = mapValues(
    spec.pools,
    (pool, name) =>
      new SandboxPool(`pool-${name}`, {
        ...owned,
        name,
        replicas: pool.replicas,
        rollout: pool.rollout ?? "rolling",
        template: sandboxArgs(pool.template),
      }),
  );
  return { app, images, volumes, secrets, sandboxes, snapshots, pools };
}

/** A secret's value from where the spec says: a stack config secret or an environment variable. */
function secretValue(config: pulumi.Config, where: string, source: SecretSource): pulumi.Output<string> {
  if ("config" in source) return config.requireSecret(source.config);
  const value = process.env[source.env];
  if (value === undefined) throw new Error(`${where}: environment variable ${source.env} is not set`);
  return pulumi.secret(value);
}

/** Stack outputs a reviewer and a script can read. */
export function specOutputs(deployed: DeployedSpec): Record<string, pulumi.Output<unknown>> {
  const map = <T>(record: Record<string, T>, pick: (value: T) => pulumi.Output<unknown>) =>
    pulumi.output(Object.fromEntries(Object.entries(record).map(([name, value]) => [name, pick(value)])));
  return {
    app: deployed.app.name,
    images: map(deployed.images, (i) => i.imageRef),
    sandboxes: map(deployed.sandboxes, (s) => s.containerId),
    snapshots: map(deployed.snapshots, (s) => s.imageRef),
    pools: map(deployed.pools, (p) => p.readyCount),
  };
}

function mapValues<T, U>(record: Record<string, T>, make: (value: T, name: string) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(record).map(([name, value]) => [name, make(value, name)]));
}

/** Validation has checked every reference; this only keeps the types honest. */
function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`sandfleet.yaml refers to an unknown ${what}`);
  return value;
}
