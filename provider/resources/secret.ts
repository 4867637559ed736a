import * as pulumi from "@pulumi/pulumi";
import { App } from "./app.ts";
import { delegatingProvider } from "./delegate.ts";
import { ownership } from "./options.ts";

const provider = delegatingProvider(import.meta.url, "./secret-provider", "secretProvider");

export interface SecretArgs {
  /** The owning app, or its name. */
  app: App | string;
  /** Unique within the app; defaults to the resource name. */
  name?: string;
  /**
   * Variable name to value. Values are made Pulumi secrets whatever their
   * source: program values, `config.requireSecret(...)`, or the environment.
   */
  values: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/**
 * Key/value pairs kept only as Pulumi secrets (encrypted in the state) and
 * injected as environment variables into the sandboxes that name the secret.
 * A change of value replaces exactly those sandboxes.
 */
export class Secret extends pulumi.dynamic.Resource {
  /** The variable names, in the clear: what a reviewer may see. */
  declare readonly keys: pulumi.Output<string[]>;
  /** The values, as a secret output. */
  declare readonly values: pulumi.Output<Record<string, string>>;

  constructor(resourceName: string, args: SecretArgs, opts: pulumi.CustomResourceOptions = {}) {
    super(
      provider,
      resourceName,
      {
        app: ownership(args.app).inputs.app,
        name: args.name ?? resourceName,
        values: pulumi.secret(args.values),
        keys: undefined,
      },
      { ...opts, additionalSecretOutputs: ["values", ...(opts.additionalSecretOutputs ?? [])] },
      "sandfleet",
      "Secret",
    );
  }

  /** Reads `values` from environment variables now, failing on any that is unset. */
  static fromEnvironment(names: readonly string[]): pulumi.Output<Record<string, string>> {
    const missing = names.filter((n) => process.env[n] === undefined);
    if (missing.length) throw new Error(`environment variables not set: ${missing.join(", ")}`);
    return pulumi.secret(Object.fromEntries(names.map((n) => [n, process.env[n] ?? ""])));
  }
}
