/**
 * A kubeconfig can make whoever loads it run commands: an `exec` credential
 * plugin is a command line, an `auth-provider` (gcp, azure) runs its
 * `cmd-path`, and a `token-file` is a file of this machine sent to the
 * cluster's server. A kubeconfig that sandfleet is told to use by name (one
 * a pull request may have added) is held to this check where it is loaded,
 * and by `validate`, `preview` and `up` before that.
 */
import { readFileSync, statSync } from "node:fs";
import { isMap, isScalar, parseAllDocuments, visit } from "yaml";

/** Keys of a kubeconfig that run something on, or send something from, the machine that loads it. */
const RISKY_KEYS: Record<string, string> = {
  exec: "runs an exec credential plugin (a command)",
  "auth-provider": "uses an auth-provider (which runs its cmd-path)",
  "token-file": "reads a token-file of this machine",
  tokenFile: "reads a token-file of this machine",
};

const MAX_KUBECONFIG_BYTES = 1024 * 1024;

/** The words that close every refusal: how to allow it. */
export const KUBECONFIG_ALLOW_WORDS =
  "it would run on the machine that deploys; a policy with allowKubeconfigExec: true allows it";

/**
 * Why a kubeconfig would run a command (or send a file) of this machine, or
 * undefined. Every key of every mapping is looked at, wherever it is and
 * however it was spelled (quoted, escaped, behind an anchor or a merge key),
 * so that no reading of the file by another parser finds a plugin this one missed.
 */
export function kubeconfigCredentialProblem(path: string): string | undefined {
  let text: string;
  try {
    // A device or a pipe (/dev/zero, /dev/stdin) would never end; no real kubeconfig is a megabyte.
    const stat = statSync(path);
    if (!stat.isFile()) return "is not a regular file";
    if (stat.size > MAX_KUBECONFIG_BYTES)
      return `is ${String(stat.size)} bytes; a kubeconfig may have at most ${String(MAX_KUBECONFIG_BYTES)}`;
    text = readFileSync(path, "utf8");
  } catch (error) {
    return `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
  }
  return kubeconfigTextProblem(text);
}

/** The check of kubeconfigCredentialProblem, on the text of a kubeconfig. */
export function kubeconfigTextProblem(text: string): string | undefined {
  const documents = parseAllDocuments(text, { merge: true, uniqueKeys: false });
  const list = Array.isArray(documents) ? documents : [documents];
  const found = new Set<string>();
  for (const document of list) {
    if (document.errors.length > 0)
      return `is not YAML a kubeconfig loader reads the same way (${document.errors[0]?.message.split("\n")[0] ?? ""})`;
    visit(document, {
      Pair(_, pair) {
        const key = isScalar(pair.key) ? String(pair.key.value) : isMap(pair.key) ? "a map" : String(pair.key);
        const risk = RISKY_KEYS[key];
        if (risk) found.add(risk);
      },
    });
  }
  if (found.size > 0) return `${[...found].join(" and ")}: ${KUBECONFIG_ALLOW_WORDS}`;
  // Any other file (a credentials file named by mistake, or on purpose) stops here, before a loader's error quotes its lines.
  const root = list[0]?.contents;
  const keys = isMap(root) ? root.items.map((pair) => (isScalar(pair.key) ? String(pair.key.value) : "")) : [];
  if (!["clusters", "contexts", "users"].some((key) => keys.includes(key)))
    return "is not a kubeconfig (a map with clusters, contexts and users)";
  return undefined;
}

/** The users of a loaded kubeconfig, as @kubernetes/client-node read them: the same check on its own reading. */
export function loadedUsersProblem(
  users: readonly { name: string; exec?: unknown; authProvider?: unknown }[],
): string | undefined {
  const user = users.find((u) => u.exec || u.authProvider);
  if (!user) return undefined;
  return `user ${JSON.stringify(user.name)} ${user.exec ? RISKY_KEYS.exec : RISKY_KEYS["auth-provider"]}: ${KUBECONFIG_ALLOW_WORDS}`;
}
