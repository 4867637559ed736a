import { Sandbox } from "../runtime/sandbox.ts";

/** A sandbox as named on the command line: `app/name`, a container id (or prefix), or a container name. */
export async function resolveSandbox(ref: string): Promise<Sandbox> {
  const slash = ref.indexOf("/");
  if (slash > 0) return Sandbox.fromName(ref.slice(0, slash), ref.slice(slash + 1));
  return Sandbox.fromId(ref);
}
