import { hmacSha256Hex } from "../../digest.ts";
import type { Engine } from "../../engines/port.ts";
import { LABEL, ownershipLabels, scopeLabels } from "../engine-state/labels.ts";
import { webhookUrlProblem } from "../../addresses.ts";
import { booleanProblem, enumProblem, LIMITS, quoted, ruleProblem } from "../../rules.ts";
import { objectName } from "../engine-state/names.ts";
import { SANDBOX_EVENT_KINDS, type SandboxEventKind } from "../engine-state/event-kinds.ts";

/**
 * Where the agent POSTs an app's sandbox events. The signing key is read by
 * the agent from its own environment, under the name given here: it is never
 * in sandfleet.yaml, the Pulumi state or the engine.
 */
export interface Webhook {
  /** http:// or https://, exactly as the URL parser reads it, without credentials. */
  url: string;
  /**
   * Let the URL, or the addresses its name resolves to when an event is
   * sent, be inside a network: loopback, link-local (cloud metadata),
   * private, shared (CGNAT), unique-local, multicast and the like. Default
   * false: such a webhook is refused, and so is each delivery to such an address.
   */
  allowPrivate?: boolean;
  /** Which events; default every kind. */
  events?: SandboxEventKind[];
  /** The environment variable of `sandfleet agent` that holds the HMAC-SHA256 key. */
  secretEnv: string;
}

export const SIGNATURE_HEADER = "x-sandfleet-signature";
export const TIMESTAMP_HEADER = "x-sandfleet-timestamp";
export const DELIVERY_HEADER = "x-sandfleet-delivery";

/** Problems of a list of webhooks, by property path (`webhooks[0].url`), in the words of sandfleet.yaml's checks. */
export function webhookProblems(value: unknown): { property: string; reason: string }[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) return [{ property: "webhooks", reason: "must be a list" }];
  if (value.length > LIMITS.webhooks) {
    const reason = `must have at most ${String(LIMITS.webhooks)} items (has ${String(value.length)})`;
    return [{ property: "webhooks", reason }];
  }
  const problems: { property: string; reason: string }[] = [];
  const problem = (property: string, reason: string | undefined) => {
    if (reason) problems.push({ property, reason });
  };
  value.forEach((hook: unknown, i) => {
    const at = `webhooks[${String(i)}]`;
    if (typeof hook !== "object" || hook === null) {
      problem(at, "must be a map with url and secretEnv");
      return;
    }
    const { url, events, secretEnv, allowPrivate } = hook as Record<string, unknown>;
    if (allowPrivate !== undefined) problem(`${at}.allowPrivate`, booleanProblem(allowPrivate));
    problem(`${at}.url`, webhookUrlProblem(url, allowPrivate === true));
    problem(`${at}.secretEnv`, secretEnv === undefined ? "is required" : ruleProblem("variableName", secretEnv));
    if (events === undefined) return;
    if (!Array.isArray(events)) problem(`${at}.events`, `must be a list, not ${quoted(events)}`);
    else if (events.length === 0) problem(`${at}.events`, "must not be empty");
    else {
      events.forEach((kind: unknown, k) => {
        problem(`${at}.events[${String(k)}]`, enumProblem(kind, SANDBOX_EVENT_KINDS));
      });
      if (new Set(events).size !== events.length) problem(`${at}.events`, "lists an entry twice");
    }
  });
  return problems;
}

/** The app's webhooks, kept on the engine as a record the agent reads: one per app. */
export async function writeWebhooks(docker: Engine, app: string, hooks: readonly Webhook[]): Promise<void> {
  const name = objectName("webhooks", app, "hooks");
  await docker.records.remove(name);
  if (hooks.length === 0) return;
  await docker.records.create({
    name,
    labels: ownershipLabels(app, "webhooks", { [LABEL.webhooks]: JSON.stringify(hooks) }),
  });
}

/** Every app's webhooks (or one app's), by app. */
export async function readWebhooks(docker: Engine, app?: string): Promise<Map<string, Webhook[]>> {
  const records = await docker.records.list(scopeLabels("webhooks", app));
  return new Map(
    records.map((r) => [r.labels[LABEL.app] ?? "", JSON.parse(r.labels[LABEL.webhooks] ?? "[]") as Webhook[]]),
  );
}

/** The headers that sign a body: HMAC-SHA256 over `<timestamp>.<body>`, so that a replay with a new time fails. */
export function signature(key: string, timestamp: string, body: string): string {
  return `sha256=${hmacSha256Hex(key, `${timestamp}.${body}`)}`;
}
