/** The content types of a PATCH, by the kind of patch its body is. */
export const PATCH_TYPES = {
  json: "application/json-patch+json",
  merge: "application/merge-patch+json",
  strategic: "application/strategic-merge-patch+json",
  /** Server-side apply: the whole object, as YAML (JSON is YAML). */
  apply: "application/apply-patch+yaml",
} as const;
