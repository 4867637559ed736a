import type { VolumeClient, VolumeInfo } from "../port.ts";
import type { KubeApis } from "./api.ts";
import type { KubeCall, KubeLookup } from "./errors.ts";
import { kubeMetadata, kubeName, labelsOf, nameOf, selectorFor } from "./labels.ts";

/** How big a volume's claim is, and of which storage class. */
export interface VolumeClass {
  storageClass: string | undefined;
  size: string;
}

/** Volumes are PersistentVolumeClaims: the cluster's storage keeps the data across pods. */
export function volumeClient(
  apis: () => Promise<KubeApis>,
  call: KubeCall,
  lookup: KubeLookup,
  volumeClass: VolumeClass,
): VolumeClient {
  const info = (name: string, labels: Record<string, string>): VolumeInfo => ({ name, labels, mountpoint: "" });
  return {
    async create(spec) {
      const { core, namespace } = await apis();
      await call(`create volume ${spec.name}`, () =>
        core.createNamespacedPersistentVolumeClaim({
          namespace,
          body: {
            metadata: { name: kubeName(spec.name), ...kubeMetadata(spec.labels, spec.name) },
            spec: {
              accessModes: ["ReadWriteOnce"],
              resources: { requests: { storage: volumeClass.size } },
              ...(volumeClass.storageClass ? { storageClassName: volumeClass.storageClass } : {}),
            },
          },
        }),
      );
      return info(spec.name, { ...spec.labels });
    },
    async inspect(name) {
      const { core, namespace } = await apis();
      const found = await lookup(`read volume ${name}`, () =>
        core.readNamespacedPersistentVolumeClaim({ name: kubeName(name), namespace }),
      );
      return found && info(name, labelsOf(found.metadata));
    },
    async remove(name) {
      const { core, namespace } = await apis();
      await lookup(`delete volume ${name}`, () =>
        core.deleteNamespacedPersistentVolumeClaim({ name: kubeName(name), namespace }),
      );
    },
    async list(labels) {
      const { core, namespace } = await apis();
      const { selector, matches } = selectorFor(labels);
      const found = await call("list volumes", () =>
        core.listNamespacedPersistentVolumeClaim({ namespace, labelSelector: selector }),
      );
      return found.items.map((c) => info(nameOf(c.metadata), labelsOf(c.metadata))).filter((v) => matches(v.labels));
    },
  };
}
