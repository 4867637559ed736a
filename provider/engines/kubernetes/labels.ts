import { sha256 } from "../../digest.ts";
import type { Labels } from "../port.ts";

/**
 * sandfleet's labels are free text (a readiness probe's JSON, a tag's value);
 * Kubernetes labels are short and restricted. Every label is kept whole in
 * one annotation, and those that Kubernetes can hold are also set as labels,
 * so that the API server selects by them.
 */
export const LABELS_ANNOTATION = "sandfleet.io/labels";
/** The current name of a pod (its sandfleet name changes; a pod's cannot), and its hash as a label to find it by. */
export const NAME_ANNOTATION = "sandfleet.io/name";
export const NAME_HASH_LABEL = "sandfleet.io/name-hash";
/** Set on every object this engine makes, so that its policies and cleanup never guess. */
export const OWNED_LABEL = "sandfleet.io/engine-object";
/** The prefix of the labels this engine sets itself. */
const OWN_PREFIX = "sandfleet.io/";

const KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

export const validLabelKey = (key: string): boolean => KEY.test(key) && key.length <= 316;
export const validLabelValue = (value: string): boolean => VALUE.test(value);

export function nameHash(name: string): string {
  return sha256().update(name).digest("hex").slice(0, 32);
}

/** The metadata that carries `labels` (and, for a named object, its name). */
export function kubeMetadata(
  labels: Labels,
  name?: string,
): { labels: Record<string, string>; annotations: Record<string, string> } {
  const kubeLabels: Record<string, string> = { [OWNED_LABEL]: "true" };
  for (const [key, value] of Object.entries(labels)) {
    // sandfleet's own keys (ownership, network membership) are never taken from a caller's labels.
    if (key.startsWith(OWN_PREFIX)) continue;
    if (validLabelKey(key) && validLabelValue(value)) kubeLabels[key] = value;
  }
  const annotations: Record<string, string> = { [LABELS_ANNOTATION]: JSON.stringify(labels) };
  if (name !== undefined) {
    kubeLabels[NAME_HASH_LABEL] = nameHash(name);
    annotations[NAME_ANNOTATION] = name;
  }
  return { labels: kubeLabels, annotations };
}

/** sandfleet's labels of an object, from its annotation. */
export function labelsOf(
  meta: { annotations?: Record<string, string> | undefined } | undefined,
): Record<string, string> {
  const raw = meta?.annotations?.[LABELS_ANNOTATION];
  if (!raw) return {};
  try {
    return JSON.parse(raw) as Record<string, string>;
  } catch {
    return {};
  }
}

/**
 * The API server's label selector for `labels` (an empty value: the key is
 * set), and the whole test, to run on what it returns: the server cannot
 * select by labels it cannot hold.
 */
export function selectorFor(labels: Labels): { selector: string; matches: (all: Labels) => boolean } {
  const terms = [`${OWNED_LABEL}=true`];
  for (const [key, value] of Object.entries(labels)) {
    // An object whose value it cannot hold lacks the label, so "is set" is tested here, not there.
    if (validLabelKey(key) && value !== "" && validLabelValue(value)) terms.push(`${key}=${value}`);
  }
  const matches = (all: Labels) =>
    Object.entries(labels).every(([key, value]) => (value === "" ? key in all : all[key] === value));
  return { selector: terms.join(","), matches };
}

const DNS_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * The Kubernetes name of a named object (a record, a volume): the name itself
 * when Kubernetes allows it, else one derived from its hash, the same every
 * time, so that the API server still refuses a second object of one name.
 */
export function kubeName(name: string): string {
  return DNS_NAME.test(name) && name.length <= 63 ? name : `sf-${nameHash(name).slice(0, 32)}`;
}

/** The sandfleet name of a named object. */
export function nameOf(meta: { name?: string; annotations?: Record<string, string> } | undefined): string {
  return meta?.annotations?.[NAME_ANNOTATION] ?? meta?.name ?? "";
}
