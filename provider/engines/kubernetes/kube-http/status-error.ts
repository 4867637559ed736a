/**
 * What the API server answered when it refused a request: the HTTP status as
 * `code` and the body as it came (a Status object's JSON, as a rule), which
 * errors.ts turns into sandfleet's errors and the server's own words. Only
 * the method, the path and the server's message are in it: never a header.
 */
export class KubeStatusError extends Error {
  readonly code: number;
  readonly body: string;

  constructor(method: string, path: string, code: number, body: string) {
    super(`${method} ${path}: HTTP ${String(code)}: ${statusMessage(body)}`);
    this.name = "KubeStatusError";
    this.code = code;
    this.body = body;
  }
}

/** A Status object's message, else the start of the body. */
function statusMessage(body: string): string {
  try {
    const status = JSON.parse(body) as { message?: unknown };
    if (typeof status.message === "string" && status.message) return status.message;
  } catch {
    // not JSON: said as it came
  }
  return body.slice(0, 300).trim() || "no message";
}
