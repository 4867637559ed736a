import { hmacSha256Hex, randomHex } from "../digest.ts";
import type { Engine } from "../engines/port.ts";
import { LABEL, ownershipLabels, scopeLabels } from "./labels.ts";
import { webhookUrlProblem } from "../addresses.ts";
import { booleanProblem, enumProblem, LIMITS, quoted, ruleProblem } from "../rules.ts";
import { objectName } from "./names.ts";
import { SANDBOX_EVENT_KINDS, type SandboxEvent, type SandboxEventKind } from "./event-kinds.ts";
import { postWebhook } from "./webhook-post.ts";

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

export interface DeliveryOptions {
  /** The agent's environment, where signing keys are looked up. */
  env?: Readonly<Record<string, string | undefined>>;
  /** First wait before a retry, doubled each time. Default 1000. */
  retryBaseMs?: number;
  /** Attempts in all. Default 6 (about a minute of retries). */
  attempts?: number;
  /** Each attempt's time limit. Default 10 s. */
  timeoutMs?: number;
  onFailure?: (message: string) => void;
}

/** Deliveries waiting per webhook; past this the oldest is dropped, and said so. */
const MAX_PENDING = 1000;

/**
 * Posts events to webhooks, signed, and retried with backoff on a network
 * error, a 5xx or a 429. Delivery runs beside the agent: `deliver` returns at
 * once, and a receiver that is down never holds up a pass.
 */
export class WebhookDelivery {
  readonly #options: Required<Omit<DeliveryOptions, "onFailure">> & Pick<DeliveryOptions, "onFailure">;
  readonly #pending = new Map<string, number>();
  readonly #inFlight = new Set<Promise<void>>();
  #hooks = new Map<string, Webhook[]>();
  /** Each receiver's last delivery, which its next one waits for. */
  readonly #tails = new Map<string, Promise<void>>();
  // Events seen before the webhooks were first read wait for them, rather than go nowhere.
  #markRead: () => void = () => undefined;
  readonly #read = new Promise<void>((resolve) => {
    this.#markRead = resolve;
  });

  constructor(options: DeliveryOptions = {}) {
    this.#options = { env: process.env, retryBaseMs: 1000, attempts: 6, timeoutMs: 10_000, ...options };
  }

  /** The webhooks in force, as read from the engine. */
  use(hooks: Map<string, Webhook[]>): void {
    this.#hooks = hooks;
    this.#markRead();
  }

  deliver(event: SandboxEvent): void {
    void this.#read.then(() => {
      this.#dispatch(event);
    });
  }

  #dispatch(event: SandboxEvent): void {
    for (const hook of this.#hooks.get(event.app) ?? []) {
      if (hook.events && !hook.events.includes(event.kind)) continue;
      const waiting = this.#pending.get(hook.url) ?? 0;
      if (waiting >= MAX_PENDING) {
        this.#options.onFailure?.(
          `webhook ${hook.url}: ${String(waiting)} deliveries waiting; dropped a ${event.kind} event`,
        );
        continue;
      }
      this.#pending.set(hook.url, waiting + 1);
      // One receiver's events go in order: each waits for the one before it, retries included.
      // Another receiver's queue is its own, so a dead receiver holds back only itself.
      const before = this.#tails.get(hook.url) ?? Promise.resolve();
      const delivery = before
        .then(() => this.#send(hook, event))
        .finally(() => {
          this.#pending.set(hook.url, (this.#pending.get(hook.url) ?? 1) - 1);
          this.#inFlight.delete(delivery);
        });
      this.#inFlight.add(delivery);
      this.#tails.set(hook.url, delivery);
    }
  }

  /** Resolves when every delivery started so far has succeeded or given up. */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
  }

  async #send(hook: Webhook, event: SandboxEvent): Promise<void> {
    const key = this.#options.env[hook.secretEnv];
    if (!key) {
      this.#options.onFailure?.(
        `webhook ${hook.url}: ${hook.secretEnv} is not set in the agent's environment; not sent`,
      );
      return;
    }
    const body = JSON.stringify(event);
    const id = randomHex(16);
    let last = "";
    for (let attempt = 1; attempt <= this.#options.attempts; attempt++) {
      const timestamp = String(Math.floor(Date.now() / 1000));
      try {
        const headers = {
          "content-type": "application/json",
          [SIGNATURE_HEADER]: signature(key, timestamp, body),
          [TIMESTAMP_HEADER]: timestamp,
          [DELIVERY_HEADER]: id,
        };
        const { status } = await postWebhook(hook.url, headers, body, {
          allowPrivate: hook.allowPrivate === true,
          timeoutMs: this.#options.timeoutMs,
        });
        if (status >= 200 && status < 300) return;
        // A redirect is not followed: it could lead anywhere, inside networks included.
        last = `answered ${String(status)}${status >= 300 && status < 400 ? " (a redirect, which webhooks never follow)" : ""}`;
        if (status < 500 && status !== 429) break; // the receiver refuses it: retrying will not help
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
        // A refused address stays refused: no retry.
        if ((error as { code?: unknown }).code === "EWEBHOOKPRIVATE" || /needs allowPrivate/.test(last)) break;
      }
      if (attempt < this.#options.attempts)
        await new Promise((resolve) => setTimeout(resolve, this.#options.retryBaseMs * 2 ** (attempt - 1)));
    }
    this.#options.onFailure?.(
      `webhook ${hook.url}: ${event.kind} of ${event.app}/${event.sandbox} not delivered: ${last}`,
    );
  }
}
