import { spawn } from "node:child_process";
import { EngineError } from "../../../errors.ts";
import type { ExecPlugin } from "./connection-config.ts";

/** What an exec credential plugin answers (ExecCredential, v1 or v1beta1): a token, or a client certificate. */
export interface ExecCredential {
  readonly token?: string;
  readonly certData?: string;
  readonly keyData?: string;
  /** When it stops being good; undefined is never. */
  readonly expiresMs?: number;
}

/** Output beyond this is no credential. */
const MAX_OUTPUT_BYTES = 1024 * 1024;

/**
 * Runs the plugin as kubectl does (KUBERNETES_EXEC_INFO names the API
 * version, non-interactive) and reads its ExecCredential. A failure says
 * which user's plugin and its exit, never what it printed on stdout (that
 * would be the credential).
 */
export function runExecPlugin(plugin: ExecPlugin, user: string): Promise<ExecCredential> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const { name, value } of plugin.env) if (name !== "") env[name] = value;
  env.KUBERNETES_EXEC_INFO = JSON.stringify({
    apiVersion: plugin.apiVersion,
    kind: "ExecCredential",
    spec: { interactive: false },
  });
  const failed = (why: string) =>
    new EngineError(`the exec credential plugin of kubeconfig user ${JSON.stringify(user)} ${why}`);
  return new Promise((resolve, reject) => {
    const child = spawn(plugin.command, [...plugin.args], { env, stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let size = 0;
    let said = "";
    child.stdout.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_OUTPUT_BYTES) out.push(chunk);
      else child.kill("SIGKILL");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      if (said.length < 2000) said += chunk.toString("utf8");
    });
    child.on("error", (error: NodeJS.ErrnoException) => {
      reject(failed(`(${plugin.command}) could not run: ${error.code ?? error.message}`));
    });
    child.on("close", (code, signal) => {
      if (code !== 0) {
        const words = said.trim().split("\n").slice(-3).join(" ").slice(0, 500);
        reject(failed(`ended with ${signal ?? `exit code ${String(code)}`}${words ? `: ${words}` : ""}`));
        return;
      }
      try {
        resolve(credentialOf(Buffer.concat(out).toString("utf8"), plugin.apiVersion));
      } catch (error) {
        reject(failed(error instanceof Error ? error.message : String(error)));
      }
    });
  });
}

function credentialOf(output: string, apiVersion: string): ExecCredential {
  let parsed: unknown;
  try {
    parsed = JSON.parse(output);
  } catch {
    throw new Error("printed no JSON ExecCredential");
  }
  const object = (parsed ?? {}) as { apiVersion?: unknown; kind?: unknown; status?: Record<string, unknown> };
  if (object.kind !== "ExecCredential") throw new Error("printed something other than an ExecCredential");
  if (object.apiVersion !== apiVersion)
    throw new Error(`answered ${String(object.apiVersion)} where the kubeconfig asks for ${apiVersion}`);
  const status = object.status ?? {};
  const token = typeof status.token === "string" && status.token !== "" ? status.token : undefined;
  const certData = typeof status.clientCertificateData === "string" ? status.clientCertificateData : undefined;
  const keyData = typeof status.clientKeyData === "string" ? status.clientKeyData : undefined;
  if (!token && !(certData && keyData)) throw new Error("gave neither a token nor a client certificate and key");
  const expires = typeof status.expirationTimestamp === "string" ? Date.parse(status.expirationTimestamp) : NaN;
  return {
    ...(token ? { token } : {}),
    ...(certData && keyData ? { certData, keyData } : {}),
    ...(Number.isFinite(expires) ? { expiresMs: expires } : {}),
  };
}
