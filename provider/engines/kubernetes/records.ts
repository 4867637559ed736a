import { ConflictError } from "../../errors.ts";
import type { RecordClient, RecordSpec } from "../port.ts";
import type { KubeApis } from "./api.ts";
import type { KubeCall, KubeLookup } from "./errors.ts";
import { kubeMetadata, kubeName, labelsOf, nameOf, selectorFor } from "./labels.ts";

/** Records are labelled ConfigMaps with no data: their labels are their content. */
export function recordClient(apis: () => Promise<KubeApis>, call: KubeCall, lookup: KubeLookup): RecordClient {
  const create = async (spec: RecordSpec): Promise<void> => {
    const { core, namespace } = await apis();
    await call(`create record ${spec.name}`, () =>
      core.createNamespacedConfigMap({
        namespace,
        body: { metadata: { name: kubeName(spec.name), ...kubeMetadata(spec.labels, spec.name) } },
      }),
    );
  };
  return {
    create,
    async createIfAbsent(spec) {
      try {
        await create(spec);
        return true;
      } catch (error) {
        if (error instanceof ConflictError) return false;
        throw error;
      }
    },
    async inspect(name) {
      const { core, namespace } = await apis();
      const found = await lookup(`read record ${name}`, () =>
        core.readNamespacedConfigMap({ name: kubeName(name), namespace }),
      );
      return found && { name, labels: labelsOf(found.metadata) };
    },
    async remove(name) {
      const { core, namespace } = await apis();
      await lookup(`delete record ${name}`, () => core.deleteNamespacedConfigMap({ name: kubeName(name), namespace }));
    },
    async list(labels) {
      const { core, namespace } = await apis();
      const { selector, matches } = selectorFor(labels);
      const found = await call("list records", () =>
        core.listNamespacedConfigMap({ namespace, labelSelector: selector }),
      );
      return found.items
        .map((c) => ({ name: nameOf(c.metadata), labels: labelsOf(c.metadata) }))
        .filter((r) => matches(r.labels));
    },
  };
}
