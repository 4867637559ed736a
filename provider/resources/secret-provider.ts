import { identityProblems } from "../runtime/engine-state/names.ts";
import { mapProblems } from "../runtime/sandboxes/sandbox-params.ts";
import type { FullProvider } from "./delegate.ts";
import { withPlainErrors } from "./plain-errors.ts";
import { changedKeys } from "./diff.ts";
import { type Props } from "./engine.ts";

/**
 * A Secret has no Docker object: its values live only in the Pulumi state,
 * encrypted, and reach a sandbox as environment variables when it starts.
 * Messages never include a value.
 */
export const secretProvider: FullProvider = withPlainErrors({
  async check(_olds: Props, news: Props) {
    const failures = identityProblems(news);
    const values = news.values;
    if (typeof values !== "object" || values === null || Array.isArray(values)) {
      failures.push({ property: "values", reason: "must be a map of variable names to strings" });
    } else {
      if (Object.keys(values).length === 0)
        failures.push({ property: "values", reason: "must hold at least one value" });
      // Values are never named: mapProblems says what is wrong, not what the value is.
      failures.push(...mapProblems("values", values, "variableName", "text"));
    }
    return { inputs: news, failures };
  },

  async diff(_id: string, olds: Props, news: Props) {
    const changes = changedKeys(olds, news, ["app", "name", "values"]);
    const replaces = changes.filter((key) => key !== "values");
    return { changes: changes.length > 0, replaces };
  },

  async create(inputs: Props) {
    return { id: `${String(inputs.app)}/${String(inputs.name)}`, outs: { ...inputs, keys: keysOf(inputs) } };
  },

  async read(id: string, props: Props) {
    return { id, props, inputs: { app: props.app, name: props.name, values: props.values } };
  },

  async update(_id: string, _olds: Props, news: Props) {
    return { outs: { ...news, keys: keysOf(news) } };
  },

  async delete() {
    // Nothing outside the Pulumi state to remove.
  },
});

function keysOf(inputs: Props): string[] {
  return Object.keys((inputs.values as Record<string, string> | undefined) ?? {}).sort();
}
