/**
 * kubectl's `tokenFile:` user field, which @kubernetes/client-node does not
 * read (it knows only its own `token-file`), so that such a user's requests
 * went out with no credential at all. The file is read for every request, as
 * kubectl's client re-reads it: a token the kubelet or a vault agent rotates
 * in place is picked up, and when the file and a written `token` are both
 * there, the file's wins, as it does for kubectl.
 *
 * Only kubeconfigs this machine trusts get here: the default ones
 * ($KUBECONFIG, ~/.kube/config), and a named one when the policy allows
 * what it runs and reads (kubeconfig.ts refuses `tokenFile` otherwise).
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, isAbsolute, join } from "node:path";
import type * as k8s from "@kubernetes/client-node";
import { parse } from "yaml";
import { InvalidArgumentError } from "../../errors.ts";

/** The files the library's loadFromDefault reads: $KUBECONFIG's, else ~/.kube/config. */
export function defaultKubeconfigFiles(): string[] {
  const listed = (process.env.KUBECONFIG ?? "").split(delimiter).filter((file) => file !== "");
  if (listed.length > 0) return listed;
  const home = join(homedir(), ".kube", "config");
  return existsSync(home) ? [home] : [];
}

/** Each user's `tokenFile`, by user name, resolved from its kubeconfig's folder; the first file naming a user wins, as in a merge. */
export function tokenFilesIn(files: readonly string[]): Map<string, string> {
  const byUser = new Map<string, string>();
  for (const file of files) {
    let document: unknown;
    try {
      document = parse(readFileSync(file, "utf8"));
    } catch {
      continue; // the library's own loading of it says what is wrong
    }
    const users = (document as { users?: unknown } | null)?.users;
    for (const entry of Array.isArray(users) ? (users as unknown[]) : []) {
      const { name, user } = (entry ?? {}) as { name?: unknown; user?: { tokenFile?: unknown } };
      const path = user?.tokenFile;
      if (typeof name !== "string" || typeof path !== "string" || path === "" || byUser.has(name)) continue;
      byUser.set(name, isAbsolute(path) ? path : join(dirname(file), path));
    }
  }
  return byUser;
}

/** Makes `config` send each such user's token file's content as its bearer token. */
export function useTokenFiles(config: k8s.KubeConfig, files: readonly string[]): void {
  const byUser = tokenFilesIn(files);
  if (byUser.size === 0) return;
  for (const user of config.users) {
    // The library would send a written token after (and over) the file's.
    if (byUser.has(user.name)) (user as { token?: string }).token = undefined;
  }
  config.addAuthenticator({
    isAuthProvider: (user) => byUser.has(user.name),
    async applyAuthentication(user, options) {
      const file = byUser.get(user.name) ?? "";
      let token: string;
      try {
        token = readFileSync(file, "utf8").trim();
      } catch (error) {
        throw new InvalidArgumentError(
          `kubeconfig user "${user.name}" names tokenFile ${file}, which cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
        );
      }
      if (token === "") throw new InvalidArgumentError(`kubeconfig user "${user.name}": tokenFile ${file} is empty`);
      // The options' type (node's or the WebSocket library's) does not resolve here; headers are all it is.
      const withHeaders = options as { headers?: Record<string, unknown> };
      withHeaders.headers = { ...withHeaders.headers, Authorization: `Bearer ${token}` };
    },
  });
}
