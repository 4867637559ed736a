import type { DashboardOverview, UsagePoint } from "../dashboard-model.ts";
import type { SandboxEvent } from "../../runtime/engine-state/event-kinds.ts";

export type { DashboardOverview, DashboardSandbox, EngineDescription, UsagePoint } from "../dashboard-model.ts";
export type { SandboxEvent };

export interface FeedHandlers {
  overview: (overview: DashboardOverview) => void;
  /** Every sandbox's kept history, when the stream opens (again). */
  history: (history: Record<string, UsagePoint[]>) => void;
  /** One new sample per live sandbox. */
  samples: (samples: Record<string, UsagePoint>) => void;
  connected: (open: boolean) => void;
}

/**
 * Follows the server's pushed feed until the returned function is called:
 * the browser opens it again by itself when it breaks, and the server then
 * sends what it knows first.
 */
export function openFeed(handlers: FeedHandlers): () => void {
  const source = new EventSource("/api/stream");
  for (const event of ["overview", "history", "samples"] as const)
    source.addEventListener(event, (e) => {
      // Each handler takes the JSON of its own event, as the server sends it.
      handlers[event](JSON.parse((e as MessageEvent<string>).data) as never);
    });
  source.onopen = () => {
    handlers.connected(true);
  };
  source.onerror = () => {
    handlers.connected(false);
  };
  return () => {
    source.close();
  };
}

export type Action = "pause" | "resume" | "terminate" | "extend";

/**
 * Asks the server to act on a sandbox; the header proves the request comes
 * from this page. It answers once the result has been pushed, with the
 * version of the overview that shows it.
 */
export async function act(id: string, action: Action, body: Record<string, unknown> = {}): Promise<number> {
  const response = await fetch(`/api/sandboxes/${encodeURIComponent(id)}/${action}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-sandfleet-dashboard": "1" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(await errorOf(response));
  return Number(response.headers.get("x-sandfleet-shown-version") ?? 0);
}

/** One piece of a sandbox's log, as the server streams it. */
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
