import * as pulumi from "@pulumi/pulumi";
import type { Secret } from "./secret.ts";
import { Volume } from "./volume.ts";

/** Anything that names a local image: a reference, or an Image or Snapshot resource. */
export type ImageInput = pulumi.Input<string> | { readonly imageRef: pulumi.Output<string> };

export type VolumeMountInput = Volume | { volume: Volume | string; readOnly?: boolean };

export function imageRefOf(image: ImageInput): pulumi.Input<string> {
  return typeof image === "object" && "imageRef" in image ? image.imageRef : image;
}

/** Mount path -> volume, as the list the providers take. */
export function volumeMounts(volumes: Record<string, VolumeMountInput> = {}) {
  return Object.entries(volumes).map(([mountPath, mount]) => {
    const { volume, readOnly } = mount instanceof Volume ? { volume: mount, readOnly: false } : mount;
    return { mountPath, volume: volume instanceof Volume ? volume.volumeName : volume, readOnly: readOnly ?? false };
  });
}

/** The secrets' values as one environment, a secret output; a key set twice is an error. */
export function mergedSecretEnv(secrets: readonly Secret[] = []): pulumi.Output<Record<string, string>> {
  return pulumi.all(secrets.map((s) => s.values)).apply((all) => {
    const env: Record<string, string> = {};
    for (const values of all) {
      for (const [key, value] of Object.entries(values)) {
        if (key in env) throw new Error(`secret variable ${key} is set by more than one secret`);
        env[key] = value;
      }
    }
    return env;
  });
}
