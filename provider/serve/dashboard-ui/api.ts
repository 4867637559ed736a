import type { DashboardOverview } from "../dashboard.ts";
import type { SandboxEvent } from "../../runtime/event-kinds.ts";

export type { DashboardOverview, DashboardSandbox } from "../dashboard.ts";
export type { SandboxEvent };

export async function fetchOverview(): Promise<DashboardOverview> {
  const response = await fetch("/api/overview");
  if (!response.ok) throw new Error(await errorOf(response));
  return (await response.json()) as DashboardOverview;
}

export type Action = "pause" | "resume" | "terminate" | "extend";

/** Asks the server to act on a sandbox; the header proves the request comes from this page. */
export async function act(id: string, action: Action, body: Record<string, unknown> = {}): Promise<void> {
  const response = await fetch(`/api/sandboxes/${encodeURIComponent(id)}/${action}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-sandfleet-dashboard": "1" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(await errorOf(response));
}

/** One line of a sandbox's log, as the server streams it. */
export interface LogChunk {
  stream: "stdout" | "stderr";
  text: string;
}

/** Follows a server-sent stream of JSON messages until the returned function is called. */
export function follow(url: string, onMessage: (message: unknown) => void): () => void {
  const source = new EventSource(url);
  source.onmessage = (event: MessageEvent<string>) => {
    onMessage(JSON.parse(event.data));
  };
  return () => {
    source.close();
  };
}

async function errorOf(response: Response): Promise<string> {
  const text = await response.text();
  try {
    return (JSON.parse(text) as { error?: string }).error ?? text;
  } catch {
    return text || `HTTP ${String(response.status)}`;
  }
}
