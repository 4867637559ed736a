/**
 * A kubeconfig can make whoever loads it run commands: an `exec` credential
 * plugin is a command line, an `auth-provider` (gcp, azure) runs its
 * `cmd-path`, a `token-file` is a file of this machine sent to the cluster's
 * server, and a `client-key` of this machine signs in as whoever it belongs
 * to. A kubeconfig that sandfleet is told to use by name (one a pull request
 * may have added) is held to this check where it is loaded, and by
 * `validate`, `preview` and `up` before that.
 *
 * The check reads the file into one plain object, and the engine's client
 * uses that object, never the file again: what was checked is what is used,
 * whatever another YAML parser would make of aliases or odd keys.
 */
import { readFileSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, sep } from "node:path";
import { isAlias, isScalar, LineCounter, parseAllDocuments, visit } from "yaml";
import { clusterProblem } from "./kube-http/connection-config.ts";

/** Keys of a kubeconfig that run something on, or send something from, the machine that loads it. */
const RISKY_KEYS: Record<string, string> = {
  exec: "runs an exec credential plugin (a command)",
  "auth-provider": "uses an auth-provider (which runs its cmd-path)",
  "token-file": "reads a token-file of this machine",
  tokenFile: "reads a token-file of this machine",
};

/** A user's files that prove who the machine is: they must be the kubeconfig's own, in its folder. */
const IDENTITY_FILES = ["client-certificate", "client-key"];

const MAX_KUBECONFIG_BYTES = 1024 * 1024;
const MAX_ALIASES = 100;

/** The words that close every refusal: how to allow it. */
export const KUBECONFIG_ALLOW_WORDS =
  "it would run on the machine that deploys; a policy with allowKubeconfigExec: true allows it";

/** A kubeconfig as read and checked: the plain object the loader is to be given. */
export type KubeconfigRead = { document: Record<string, unknown> } | { problem: string };

/**
 * Why a kubeconfig would run a command (or send a file) of this machine, or
 * undefined. Every key of every mapping is looked at, wherever it is and
 * however it was spelled (quoted, escaped, behind an anchor or a merge key);
 * a key that is not a plain string (an alias, a list, a map) is refused, so
 * that no reading of the file by another parser finds a key this one missed.
 */
export function kubeconfigCredentialProblem(path: string): string | undefined {
  const read = readKubeconfig(path);
  return "problem" in read ? read.problem : undefined;
}

/** The file at path, read once and checked; relative identity files are resolved from its folder. */
export function readKubeconfig(path: string): KubeconfigRead {
  let text: string;
  try {
    // A device or a pipe (/dev/zero, /dev/stdin) would never end; no real kubeconfig is a megabyte.
    const stat = statSync(path);
    if (!stat.isFile()) return { problem: "is not a regular file" };
    if (stat.size > MAX_KUBECONFIG_BYTES)
      return {
        problem: `is ${String(stat.size)} bytes; a kubeconfig may have at most ${String(MAX_KUBECONFIG_BYTES)}`,
      };
    text = readFileSync(path, "utf8");
  } catch (error) {
    return { problem: `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})` };
  }
  return parseKubeconfig(text, dirname(path));
}

/** The check of kubeconfigCredentialProblem, on the text of a kubeconfig. */
export function kubeconfigTextProblem(text: string, folder?: string): string | undefined {
  const read = parseKubeconfig(text, folder);
  return "problem" in read ? read.problem : undefined;
}

/** Why a mapping key is not a plain string, or undefined. A merge key (`<<`) is one, resolved by the parser. */
function oddKeyProblem(key: unknown): string | undefined {
  if (key === null || key === undefined) return "is empty";
  if (isAlias(key)) return `is an alias (*${key.source})`;
  if (!isScalar(key)) return "is a list or a map";
  if (key.anchor) return `carries an anchor (&${key.anchor})`;
  if (typeof key.value === "string" || (typeof key.value === "symbol" && key.source === "<<")) return undefined;
  return `is not a string (${String(key.value)})`;
}

function parseKubeconfig(text: string, folder: string | undefined): KubeconfigRead {
  const lines = new LineCounter();
  const documents = parseAllDocuments(text, { merge: true, uniqueKeys: false, lineCounter: lines });
  const list = Array.isArray(documents) ? documents : [documents];
  const found = new Set<string>();
  let odd: string | undefined;
  for (const document of list) {
    if (document.errors.length > 0)
      return {
        problem: `is not YAML a kubeconfig loader reads the same way (${document.errors[0]?.message.split("\n")[0] ?? ""})`,
      };
    visit(document, {
      Pair(_, pair) {
        const problem = oddKeyProblem(pair.key);
        if (problem && odd === undefined) {
          const at = lines.linePos((pair.key as { range?: [number] } | null)?.range?.[0] ?? 0);
          odd = `has a key at line ${String(at.line)} column ${String(at.col)} that ${problem}; a kubeconfig's keys must be plain strings, so that every reader sees the key this check saw`;
        }
        const risk = isScalar(pair.key) ? RISKY_KEYS[String(pair.key.value)] : undefined;
        if (risk) found.add(risk);
      },
    });
  }
  if (odd) return { problem: odd };
  if (found.size > 0) return { problem: `${[...found].join(" and ")}: ${KUBECONFIG_ALLOW_WORDS}` };
  let document: unknown;
  try {
    document = list[0]?.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (error) {
    return { problem: `is not YAML a kubeconfig loader reads the same way (${String(error).split("\n")[0] ?? ""})` };
  }
  // The loaded object is what the loader gets: its every key is held to the same list once more.
  const risk = riskyKeyIn(document);
  if (risk) return { problem: `${risk}: ${KUBECONFIG_ALLOW_WORDS}` };
  // Any other file (a credentials file named by mistake, or on purpose) stops here, before a loader's error quotes its lines.
  if (!isPlainMap(document) || !["clusters", "contexts", "users"].some((key) => key in document))
    return { problem: "is not a kubeconfig (a map with clusters, contexts and users)" };
  if (list.length > 1) return { problem: "has more than one document; a kubeconfig loader reads only one" };
  const outside = folder === undefined ? undefined : identityFileProblem(document, folder);
  return outside ? { problem: outside } : { document };
}

function isPlainMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function riskyKeyIn(value: unknown): string | undefined {
  if (Array.isArray(value)) return value.map(riskyKeyIn).find((r) => r !== undefined);
  if (!isPlainMap(value)) return undefined;
  for (const [key, inner] of Object.entries(value)) {
    const risk = RISKY_KEYS[key] ?? riskyKeyIn(inner);
    if (risk) return risk;
  }
  return undefined;
}

/**
 * A user's client certificate or key outside the kubeconfig's folder (a path
 * to the deploy machine's own identity, or a link to it) would sign in to
 * the cluster the file names as the machine.
 */
function identityFileProblem(document: Record<string, unknown>, folder: string): string | undefined {
  const users = Array.isArray(document.users) ? (document.users as unknown[]) : [];
  const home = realPath(folder);
  const clusters = Array.isArray(document.clusters) ? (document.clusters as unknown[]) : [];
  for (const entry of clusters) {
    const cluster = isPlainMap(entry) && isPlainMap(entry.cluster) ? entry.cluster : undefined;
    // The loader's own rule, said here too, so that validate refuses what the engine would, in its words.
    const unreachable = cluster ? clusterProblem(cluster) : undefined;
    if (unreachable) return `cluster ${JSON.stringify(isPlainMap(entry) ? entry.name : undefined)} ${unreachable}`;
    const file = cluster?.["certificate-authority"];
    // A number would be read as an open file descriptor of this process.
    if (file && typeof file !== "string")
      return `names certificate-authority ${JSON.stringify(file)}, which is not a path`;
    const notPlain = typeof file === "string" && file !== "" ? notPlainFileProblem(file, folder) : undefined;
    if (notPlain) return `names certificate-authority ${JSON.stringify(file)}, ${notPlain}`;
  }
  for (const entry of users) {
    const user = isPlainMap(entry) && isPlainMap(entry.user) ? entry.user : {};
    for (const key of IDENTITY_FILES) {
      const file = user[key];
      if (file && typeof file !== "string") return `names ${key} ${JSON.stringify(file)}, which is not a path`;
      if (typeof file !== "string" || file === "") continue;
      const path = isAbsolute(file) ? file : join(folder, file);
      const inside = relative(home, realPath(path));
      if (inside === "" || inside.startsWith(`..${sep}`) || inside === ".." || isAbsolute(inside))
        return `names ${key} ${JSON.stringify(file)}, a file outside the kubeconfig's folder (a file of this machine that signs in as it): ${KUBECONFIG_ALLOW_WORDS}`;
      const notPlain = notPlainFileProblem(file, folder);
      if (notPlain) return `names ${key} ${JSON.stringify(file)}, ${notPlain}`;
    }
  }
  return undefined;
}

/**
 * Why a file the kubeconfig names would not be read as a file, or undefined:
 * a device or a pipe (`/dev/zero`, `/dev/stdin`, a FIFO) never ends, and a
 * huge file fills memory, where the engine's client reads it whole. A file
 * not there is left to the client's own error.
 */
function notPlainFileProblem(file: string, folder: string): string | undefined {
  let stat;
  try {
    stat = statSync(isAbsolute(file) ? file : join(folder, file));
  } catch {
    return undefined;
  }
  if (!stat.isFile()) return "which is not a regular file (a device or a pipe is never read to its end)";
  if (stat.size > MAX_KUBECONFIG_BYTES)
    return `which is ${String(stat.size)} bytes; a file a kubeconfig names may have at most ${String(MAX_KUBECONFIG_BYTES)}`;
  return undefined;
}

/** The path with every link followed; for a file not there (yet), its folder's real path and its name. */
function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    try {
      return join(realpathSync(dirname(path)), basename(path));
    } catch {
      return path;
    }
  }
}

/**
 * The users of a loaded kubeconfig, as the engine's client read them,
 * against the object it was given: no plugin, and no token that did not come
 * from the file itself.
 */
export function loadedUsersProblem(
  users: readonly { name: string; exec?: unknown; authProvider?: unknown; token?: unknown }[],
  document: Record<string, unknown>,
): string | undefined {
  const user = users.find((u) => u.exec || u.authProvider);
  if (user)
    return `user ${JSON.stringify(user.name)} ${user.exec ? RISKY_KEYS.exec : RISKY_KEYS["auth-provider"]}: ${KUBECONFIG_ALLOW_WORDS}`;
  const written = new Map<unknown, unknown>();
  for (const entry of Array.isArray(document.users) ? (document.users as unknown[]) : [])
    // The first entry of a name is the one the loader uses, as kubectl does.
    if (isPlainMap(entry) && isPlainMap(entry.user) && !written.has(entry.name))
      written.set(entry.name, entry.user.token);
  const fromFile = users.find((u) => u.token !== undefined && u.token !== null && u.token !== written.get(u.name));
  if (fromFile) return `user ${JSON.stringify(fromFile.name)} ${RISKY_KEYS["token-file"]}: ${KUBECONFIG_ALLOW_WORDS}`;
  return undefined;
}
