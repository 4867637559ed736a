import { randomHex, sha256Hex } from "../../digest.ts";
import type { Engine } from "../../engines/port.ts";
import { InvalidArgumentError } from "../../errors.ts";
import { LABEL, ownershipLabels, scopeLabels } from "../engine-state/labels.ts";
import { objectName } from "../engine-state/names.ts";
import { wholeSecondsProblem } from "./sandbox-params.ts";
import { servedPorts } from "./tunnels.ts";

/**
 * A connect token opens one port of one sandbox through the sandfleet
 * gateway, until it expires or is revoked. It is `sfc_<id>_<secret>`: the
 * engine keeps a record of the id with the secret's SHA-256, never the
 * secret, so a listing of the engine's volumes gives no usable token.
 */
export interface ConnectToken {
  token: string;
  /**
   * The gateway's URL that opens the sandbox's port with this token, on the
   * port's own host name under the gateway's (`<label>.localhost:8088`).
   */
  url: string;
  sandboxId: string;
  port: number;
  expiresAt: string;
}

/** Longest a token may live: 7 days. */
export const MAX_TOKEN_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/** Where the gateway is when nothing says otherwise (`sandfleet gateway`'s default address). */
export const DEFAULT_GATEWAY_URL = "http://localhost:8088";

/** The query parameter that carries a token in a URL. */
export const TOKEN_PARAM = "sandfleet_token";

const TOKEN = /^sfc_([0-9a-f]{16})_([0-9a-f]{64})$/;

const LOOPBACK_ADDRESS = /^(127\.\d+\.\d+\.\d+|\[::1\])$/;

/**
 * The gateway's public base URL, checked: http or https, a host name and an
 * optional port, nothing after. Each sandbox port is served on a host name
 * of its own under that name, so it cannot be an address; a loopback address
 * reads as `localhost`, whose subdomains browsers resolve to loopback.
 */
export function gatewayBase(url: string): URL {
  let base: URL;
  try {
    base = new URL(url);
  } catch {
    throw new InvalidArgumentError(
      `gateway URL ${JSON.stringify(url)} is not a URL like https://sandboxes.example.com`,
    );
  }
  const problem =
    base.protocol !== "http:" && base.protocol !== "https:"
      ? "must be http or https"
      : base.username || base.password || base.pathname !== "/" || base.search || base.hash
        ? "must have nothing after its host and port"
        : undefined;
  if (problem) throw new InvalidArgumentError(`gateway URL ${url} ${problem}`);
  if (LOOPBACK_ADDRESS.test(base.hostname)) base.hostname = "localhost";
  if (/^[\d.]+$|^\[/.test(base.hostname))
    throw new InvalidArgumentError(
      `gateway URL ${url} names an address: the gateway serves each sandbox port on a host name of its own under ` +
        "its own name, so it needs a name with wildcard DNS (like https://sandboxes.example.com)",
    );
  return base;
}

/** The host name label of a sandbox port's own origin: the same for every token of that port. */
export function originLabel(sandboxId: string, port: number): string {
  return `${sha256Hex(sandboxId).slice(0, 16)}-${String(port)}`;
}

/** The origin (`scheme://label.name[:port]`) that serves one sandbox port under a gateway's base URL. */
export function connectOrigin(base: URL, sandboxId: string, port: number): URL {
  const origin = new URL(base.href);
  origin.hostname = `${originLabel(sandboxId, port)}.${base.hostname}`;
  return origin;
}

/** A token's lifetime when none is given: an hour. */
export const DEFAULT_TOKEN_TTL_MS = 60 * 60 * 1000;

/** The port a token opens when none is given: the sandbox's only port, else 8080, as in Modal. */
function defaultPort(served: readonly number[]): number {
  return served.length === 1 ? (served[0] as number) : 8080;
}

export async function createConnectToken(
  docker: Engine,
  sandbox: { id: string; app: string },
  params: { port?: number; ttlMs?: number; gatewayUrl?: string },
): Promise<ConnectToken> {
  const ttlMs = params.ttlMs ?? DEFAULT_TOKEN_TTL_MS;
  const ttlProblem = ttlMs > MAX_TOKEN_TTL_MS ? "must be at most 7 days" : wholeSecondsProblem(ttlMs);
  if (ttlProblem) throw new InvalidArgumentError(`ttl ${ttlProblem}`);
  const base = gatewayBase(params.gatewayUrl ?? process.env.SANDFLEET_GATEWAY_URL ?? DEFAULT_GATEWAY_URL);
  const container = await docker.containers.inspect(sandbox.id);
  if (!container?.running) throw new InvalidArgumentError(`sandbox ${sandbox.id.slice(0, 12)} is not running`);
  const served = servedPorts(container);
  const port = params.port ?? defaultPort(served);
  if (!served.includes(port)) {
    throw new InvalidArgumentError(
      `port ${String(port)} is not published by the sandbox (published: ${served.join(", ") || "none"})`,
    );
  }
  const id = randomHex(8);
  const secret = randomHex(32);
  const expiresAtMs = Date.now() + ttlMs;
  await docker.records.create({
    name: objectName("connect", sandbox.app, id),
    labels: ownershipLabels(sandbox.app, "connect", {
      [LABEL.sandbox]: sandbox.id,
      [LABEL.tokenId]: id,
      [LABEL.tokenHash]: sha256Hex(secret),
      [LABEL.port]: String(port),
      [LABEL.expiresAt]: String(expiresAtMs),
    }),
  });
  const token = `sfc_${id}_${secret}`;
  const gateway = connectOrigin(base, sandbox.id, port);
  gateway.searchParams.set(TOKEN_PARAM, token);
  return { token, url: gateway.href, sandboxId: sandbox.id, port, expiresAt: new Date(expiresAtMs).toISOString() };
}

/** What a token opens and until when, or why it opens nothing. */
export type TokenVerdict = { sandboxId: string; app: string; port: number; expiresAtMs: number } | { refused: string };

/** Checks a token against the engine's records: well formed, known, its secret, not expired. */
export async function verifyConnectToken(docker: Engine, token: string, nowMs = Date.now()): Promise<TokenVerdict> {
  const id = TOKEN.exec(token)?.[1];
  if (!id) return { refused: "not a sandfleet connect token" };
  const records = await docker.records.list({ ...scopeLabels("connect"), [LABEL.tokenId]: id });
  return verdictOf(token, records, nowMs);
}

/** Checks many tokens with one listing of the engine's records: what the gateway does for its open connections. */
export async function verifyConnectTokens(
  docker: Engine,
  tokens: readonly string[],
  nowMs = Date.now(),
): Promise<Map<string, TokenVerdict>> {
  const records = await docker.records.list(scopeLabels("connect"));
  return new Map(tokens.map((token) => [token, verdictOf(token, records, nowMs)]));
}

function verdictOf(token: string, records: readonly { labels: Record<string, string> }[], nowMs: number): TokenVerdict {
  const match = TOKEN.exec(token);
  if (!match) return { refused: "not a sandfleet connect token" };
  const [, id = "", secret = ""] = match;
  const record = records.find((r) => r.labels[LABEL.tokenId] === id);
  // Unknown and revoked read the same: the record is gone.
  if (!record || record.labels[LABEL.tokenHash] !== sha256Hex(secret)) return { refused: "unknown or revoked token" };
  const expiresAtMs = Number(record.labels[LABEL.expiresAt] ?? 0);
  if (!(nowMs < expiresAtMs)) return { refused: "expired token" };
  return {
    sandboxId: record.labels[LABEL.sandbox] ?? "",
    app: record.labels[LABEL.app] ?? "",
    port: Number(record.labels[LABEL.port]),
    expiresAtMs,
  };
}

/** Revokes a token (or every token of a sandbox): the gateway refuses it from its next request on. */
export async function revokeConnectTokens(
  docker: Engine,
  which: { token: string } | { sandboxId: string },
): Promise<number> {
  let labels: Record<string, string>;
  if ("token" in which) {
    const id = TOKEN.exec(which.token)?.[1];
    if (!id) throw new InvalidArgumentError("not a sandfleet connect token");
    labels = { ...scopeLabels("connect"), [LABEL.tokenId]: id };
  } else labels = { ...scopeLabels("connect"), [LABEL.sandbox]: which.sandboxId };
  const records = await docker.records.list(labels);
  await Promise.all(records.map((r) => docker.records.remove(r.name)));
  return records.length;
}

/** Removes the records of tokens (of an app, or every app) that expired or whose sandbox is gone. */
export async function pruneConnectTokens(docker: Engine, nowMs: number, app?: string): Promise<void> {
  for (const record of await docker.records.list(scopeLabels("connect", app))) {
    const expired = nowMs >= Number(record.labels[LABEL.expiresAt] ?? 0);
    if (expired || !(await docker.containers.inspect(record.labels[LABEL.sandbox] ?? "")))
      await docker.records.remove(record.name);
  }
}
