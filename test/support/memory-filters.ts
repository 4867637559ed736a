import type { EngineEvent, Labels } from "../../provider/engines/port.ts";

// How the Docker engine matches what it is asked for, as the in-memory engine (memory-engine.ts) does.

/** A reference as the Docker engine stores it: `name:tag`, `latest` when no tag is given. */
export function fullRef(ref: string): string {
  const lastPart = ref.split("/").pop() ?? ref;
  return ref.startsWith("sha256:") || lastPart.includes(":") || ref.includes("@") ? ref : `${ref}:latest`;
}

/** Whether the labels hold every filter; an empty value matches any value of the label, as Docker's filter. */
export function matches(labels: Labels, filters: Labels): boolean {
  return Object.entries(filters).every(([key, value]) => (value === "" ? key in labels : labels[key] === value));
}

export function wanted(event: EngineEvent, actions: readonly string[], labels: Labels): boolean {
  return (actions.length === 0 || actions.includes(event.action)) && matches(event.attributes, labels);
}
