import { InvalidArgumentError } from "../../errors.ts";
import { provablyNonRoot } from "./pod-spec.ts";

/** What Pod Security admission says when it refuses a pod (403 Forbidden). */
const POD_SECURITY_REFUSAL = /violates PodSecurity "([a-z]+)(?::[^"]*)?": (.*)$/s;

/**
 * A pod refused by the namespace's Pod Security level, said in sandfleet's
 * words: which level, why this sandbox cannot meet it, and what to change.
 * Anything else is returned as it came.
 */
export function podSecurityRefusal(
  error: unknown,
  sandbox: string,
  namespace: string,
  user: string | undefined,
  imageUser?: string,
): unknown {
  const message = error instanceof Error ? error.message : String(error);
  const match = POD_SECURITY_REFUSAL.exec(message);
  if (!match) return error;
  const [, level = "", reasons = ""] = match;
  const who = user ? `user "${user}"` : `its image's user (${imageUser ? `"${imageUser}"` : "root"}; no user: set)`;
  const why = provablyNonRoot(user ?? imageUser)
    ? `which refuses this pod: ${reasons.trim()}`
    : `which refuses pods that may run as root: this sandbox runs as ${who}, which Kubernetes cannot check is not root before it starts; set user: to a numeric uid other than 0 (for example user: "1000:1000")`;
  return new InvalidArgumentError(
    `sandbox ${sandbox}: namespace ${namespace} enforces Pod Security "${level}", ${why}`,
  );
}
