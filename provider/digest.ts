/**
 * Random ids and content hashes, the one place sandfleet takes node:crypto.
 * It is taken on first use, not at import: loading it costs every CLI run
 * ~10 ms, and most runs (an exec, a listing) hash nothing.
 */
import type { Hash } from "node:crypto";

const crypto = () => process.getBuiltinModule("node:crypto");

/** `bytes` random bytes as hex. */
export function randomHex(bytes: number): string {
  return crypto().randomBytes(bytes).toString("hex");
}

/** A SHA-256 to feed piece by piece. */
export function sha256(): Hash {
  return crypto().createHash("sha256");
}

/** The SHA-256 of a text, as hex. */
export function sha256Hex(text: string): string {
  return sha256().update(text).digest("hex");
}

/** The HMAC-SHA256 of a text under a key, as hex. */
export function hmacSha256Hex(key: string, text: string): string {
  return crypto().createHmac("sha256", key).update(text).digest("hex");
}
