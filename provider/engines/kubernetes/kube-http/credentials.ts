import { readFileSync } from "node:fs";
import { InvalidArgumentError } from "../../../errors.ts";
import type { ConnectionConfig } from "./connection-config.ts";
import { type ExecCredential, runExecPlugin } from "./exec-plugin.ts";

/** What one request carries: its Authorization header, and the TLS identity of its connection. */
export interface RequestIdentity {
  readonly authorization?: string;
  readonly tls: {
    readonly ca?: Buffer;
    readonly cert?: Buffer | string;
    readonly key?: Buffer | string;
    readonly rejectUnauthorized: boolean;
    readonly servername?: string;
  };
}

export interface Credentials {
  /** The identity for the next request: files read afresh, a plugin's credential while it is good. */
  identity(): Promise<RequestIdentity>;
  /** After a 401: whether a new credential may help (a plugin's, run again), and forgets the old one. */
  refresh(): boolean;
}

/** A plugin's credential counts as expired this long before it says, so that no request goes out with one about to end. */
const EXPIRY_MARGIN_MS = 10_000;

export function credentialsOf(config: ConnectionConfig): Credentials {
  const { cluster, user } = config;
  let cached: Promise<ExecCredential> | undefined;
  const plugin = async (): Promise<ExecCredential | undefined> => {
    if (!user.exec) return undefined;
    const expired = (credential: ExecCredential) =>
      credential.expiresMs !== undefined && credential.expiresMs - EXPIRY_MARGIN_MS <= Date.now();
    if (cached) {
      const kept = await cached.catch(() => undefined);
      if (kept && !expired(kept)) return kept;
    }
    // A credential fresh from the plugin is used once even if it says it has expired (no loop of runs);
    // the next request runs the plugin again.
    const run = runExecPlugin(user.exec, user.name);
    cached = run;
    const credential = await run.catch((error: unknown) => {
      if (cached === run) cached = undefined;
      throw error;
    });
    return credential;
  };
  return {
    async identity() {
      const fromPlugin = await plugin();
      const token = fromPlugin?.token ?? (user.tokenFile ? readToken(user.tokenFile, user.name) : user.token);
      const basic =
        user.username !== undefined
          ? `Basic ${Buffer.from(`${user.username}:${user.password ?? ""}`).toString("base64")}`
          : undefined;
      const cert = fromPlugin?.certData ?? user.certData ?? (user.certFile ? readFileSync(user.certFile) : undefined);
      const key = fromPlugin?.keyData ?? user.keyData ?? (user.keyFile ? readFileSync(user.keyFile) : undefined);
      const ca = cluster.caData ?? (cluster.caFile ? readFileSync(cluster.caFile) : undefined);
      return {
        ...(token ? { authorization: `Bearer ${token}` } : basic ? { authorization: basic } : {}),
        tls: {
          ...(ca ? { ca } : {}),
          ...(cert && key ? { cert, key } : {}),
          rejectUnauthorized: !cluster.insecure,
          ...(cluster.serverName ? { servername: cluster.serverName } : {}),
        },
      };
    },
    refresh() {
      if (!user.exec) return false;
      cached = undefined;
      return true;
    },
  };
}

/** kubectl's tokenFile, read for every request: a token rotated in place is picked up. */
function readToken(file: string, user: string): string {
  let token: string;
  try {
    token = readFileSync(file, "utf8").trim();
  } catch (error) {
    throw new InvalidArgumentError(
      `kubeconfig user "${user}" names tokenFile ${file}, which cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    );
  }
  if (token === "") throw new InvalidArgumentError(`kubeconfig user "${user}": tokenFile ${file} is empty`);
  return token;
}
