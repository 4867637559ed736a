// The API operations the engine makes, named as the API's own reference
// names them (readNamespacedPod is the OpenAPI readCoreV1NamespacedPod),
// each one request. The objects' types are the library's, for type-checking
// only: nothing of it is loaded at run time.
import type {
  V1ConfigMap,
  V1ConfigMapList,
  V1Lease,
  V1NetworkPolicy,
  V1NetworkPolicyList,
  V1NodeList,
  V1PersistentVolumeClaim,
  V1PersistentVolumeClaimList,
  V1Pod,
  V1PodList,
  V1ResourceQuotaList,
  V1Secret,
  V1SecretList,
  V1Status,
} from "@kubernetes/client-node";
import { PATCH_TYPES } from "./content-types.ts";
import type { KubeHttp, Query } from "./http.ts";

/** Which kind of patch a body is: a JSON patch, a merge patch, or a strategic merge patch. */
export type PatchKind = Exclude<keyof typeof PATCH_TYPES, "apply">;

interface Named {
  name: string;
  namespace: string;
}
interface Listed {
  namespace: string;
  labelSelector?: string;
  limit?: number;
}
interface Made<T> {
  namespace: string;
  body: T;
}
interface Patched extends Named {
  body: unknown;
}
interface Deleted extends Named {
  gracePeriodSeconds?: number;
}

/** The operations of one kind of namespaced object under `group` (e.g. /api/v1, /apis/networking.k8s.io/v1). */
function namespaced<T, L>(http: KubeHttp, group: string, plural: string) {
  const at = (namespace: string, name?: string) =>
    `${group}/namespaces/${encodeURIComponent(namespace)}/${plural}${name === undefined ? "" : `/${encodeURIComponent(name)}`}`;
  const listQuery = ({ labelSelector, limit }: Listed): Query => ({ labelSelector, limit });
  return {
    read: ({ name, namespace }: Named) => http.json<T>("GET", at(namespace, name)),
    list: (options: Listed) => http.json<L>("GET", at(options.namespace), { query: listQuery(options) }),
    create: ({ namespace, body }: Made<T>) => http.json<T>("POST", at(namespace), { body }),
    replace: ({ name, namespace, body }: Named & { body: T }) => http.json<T>("PUT", at(namespace, name), { body }),
    remove: ({ name, namespace, gracePeriodSeconds }: Deleted) =>
      http.json<V1Status>("DELETE", at(namespace, name), { query: { gracePeriodSeconds } }),
    patch: ({ name, namespace, body }: Patched, kind: PatchKind, subresource = "") =>
      http.json<T>("PATCH", at(namespace, name) + subresource, { body, contentType: PATCH_TYPES[kind] }),
  };
}

/** The core/v1 operations. */
export function coreV1(http: KubeHttp) {
  const pods = namespaced<V1Pod, V1PodList>(http, "/api/v1", "pods");
  const secrets = namespaced<V1Secret, V1SecretList>(http, "/api/v1", "secrets");
  const configMaps = namespaced<V1ConfigMap, V1ConfigMapList>(http, "/api/v1", "configmaps");
  const claims = namespaced<V1PersistentVolumeClaim, V1PersistentVolumeClaimList>(
    http,
    "/api/v1",
    "persistentvolumeclaims",
  );
  const quotas = namespaced<never, V1ResourceQuotaList>(http, "/api/v1", "resourcequotas");
  return {
    readNamespacedPod: pods.read,
    listNamespacedPod: pods.list,
    createNamespacedPod: pods.create,
    deleteNamespacedPod: pods.remove,
    patchNamespacedPod: (request: Patched, kind: PatchKind) => pods.patch(request, kind),
    /** In-place resize: the pod's resize subresource. */
    patchNamespacedPodResize: (request: Patched, kind: PatchKind) => pods.patch(request, kind, "/resize"),
    readNamespacedSecret: secrets.read,
    createNamespacedSecret: secrets.create,
    deleteNamespacedSecret: secrets.remove,
    patchNamespacedSecret: (request: Patched, kind: PatchKind) => secrets.patch(request, kind),
    readNamespacedConfigMap: configMaps.read,
    listNamespacedConfigMap: configMaps.list,
    createNamespacedConfigMap: configMaps.create,
    deleteNamespacedConfigMap: configMaps.remove,
    readNamespacedPersistentVolumeClaim: claims.read,
    listNamespacedPersistentVolumeClaim: claims.list,
    createNamespacedPersistentVolumeClaim: claims.create,
    deleteNamespacedPersistentVolumeClaim: claims.remove,
    listNamespacedResourceQuota: quotas.list,
    listNode: () => http.json<V1NodeList>("GET", "/api/v1/nodes"),
  };
}

/** The networking.k8s.io/v1 operations. */
export function networkingV1(http: KubeHttp) {
  const policies = namespaced<V1NetworkPolicy, V1NetworkPolicyList>(
    http,
    "/apis/networking.k8s.io/v1",
    "networkpolicies",
  );
  return {
    readNamespacedNetworkPolicy: policies.read,
    listNamespacedNetworkPolicy: policies.list,
    createNamespacedNetworkPolicy: policies.create,
    deleteNamespacedNetworkPolicy: policies.remove,
  };
}

/** The coordination.k8s.io/v1 operations. */
export function coordinationV1(http: KubeHttp) {
  const leases = namespaced<V1Lease, never>(http, "/apis/coordination.k8s.io/v1", "leases");
  return {
    readNamespacedLease: leases.read,
    createNamespacedLease: leases.create,
    replaceNamespacedLease: leases.replace,
  };
}

export type CoreV1 = ReturnType<typeof coreV1>;
export type NetworkingV1 = ReturnType<typeof networkingV1>;
export type CoordinationV1 = ReturnType<typeof coordinationV1>;
