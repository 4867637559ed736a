// The author of a pull request declares webhooks in sandfleet.yaml, and the
// agent on the deploy side POSTs to them: a webhook must not become a way to
// reach what only that machine can reach (loopback services such as an
// engine's API on 127.0.0.1:2375, cloud metadata on 169.254.169.254, private
// networks) unless the operator wrote `allowPrivate: true`.
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { lookup } from "node:dns/promises";
import type { AddressInfo } from "node:net";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appProvider } from "../../provider/resources/app-provider.ts";
import type { SandboxEvent } from "../../provider/runtime/event-kinds.ts";
import { readWebhooks, writeWebhooks, type Webhook } from "../../provider/runtime/webhooks.ts";
import { WebhookDelivery } from "../../provider/runtime/webhook-delivery.ts";
import { sandfleet } from "../support/cli.ts";
import { cleanupApp, docker, uniqueApp } from "../support/engine.ts";
import { until } from "../support/until.ts";

interface Receiver {
  url: (host?: string) => string;
  hits: { path: string; body: string }[];
  close(): Promise<void>;
}

/** A real HTTP receiver on 127.0.0.1 that records every request it gets; `answer` decides each reply. */
async function receiver(
  answer: (request: IncomingMessage) => [number, Record<string, string>?] = () => [200],
): Promise<Receiver> {
  const hits: { path: string; body: string }[] = [];
  const server: Server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      hits.push({ path: request.url ?? "", body });
      const [status, headers] = answer(request);
      response.writeHead(status, headers).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (host = "127.0.0.1") => `http://${host}:${String(port)}/hook`,
    hits,
    close: () =>
      new Promise((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  };
}

const app = uniqueApp("sechook");
const event = (): SandboxEvent => ({ time: new Date().toISOString(), kind: "created", app, sandbox: "s", id: "0" });

/**
 * Delivers one event to the hooks as the agent would, after reading them back
 * from the engine's record; returns the failures it reported once the first
 * attempt has ended (delivered, or said why not).
 */
async function deliverThroughRecord(hooks: Webhook[]): Promise<string[]> {
  // Written as the record is (an older sandfleet wrote what its checks let through), then read back as the agent reads it.
  await writeWebhooks(docker, app, hooks);
  const failures: string[] = [];
  const delivery = new WebhookDelivery(
    { engine: docker.host, app },
    {
      env: { HOOK_KEY: "k" },
      stateDir: mkdtempSync(join(tmpdir(), "sandfleet-hook-state-")),
      onFailure: (message) => failures.push(message),
    },
  );
  delivery.open();
  try {
    delivery.use(await readWebhooks(docker, app));
    await delivery.take(event());
    await until("the first attempt to end", () =>
      Promise.resolve(delivery.waiting() === 0 || failures.some((f) => f.includes("not delivered"))),
    );
  } finally {
    await delivery.close();
  }
  return failures;
}

describe("webhooks to addresses inside a network", () => {
  let local: Receiver;
  beforeAll(async () => {
    local = await receiver();
  });
  afterAll(async () => {
    await local.close();
    await cleanupApp(app);
  });

  it("a sandfleet.yaml webhook to 127.0.0.1 is refused by `sandfleet validate`, at its line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sandfleet-hooks-"));
    const file = join(dir, "sandfleet.yaml");
    writeFileSync(file, `app: ${app}\nwebhooks:\n  - url: ${local.url()}\n    secretEnv: HOOK_KEY\n`);
    const result = await sandfleet(["validate", file]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(
      "3:10  webhooks[0].url: 127.0.0.1 is a loopback address; a webhook to an address inside a network needs allowPrivate: true",
    );
    writeFileSync(
      file,
      `app: ${app}\nwebhooks:\n  - url: ${local.url()}\n    allowPrivate: true\n    secretEnv: HOOK_KEY\n`,
    );
    expect((await sandfleet(["validate", file])).code).toBe(0);
  });

  it.each([
    ["loopback", "http://127.0.0.1:2375/containers/json"],
    ["cloud metadata", "http://169.254.169.254/latest/meta-data/"],
    ["a private network", "http://10.0.0.1/"],
    ["loopback written as one number", "http://2130706433:2375/"],
    ["loopback as IPv4-mapped IPv6", "http://[::ffff:7f00:1]:2375/"],
    ["a look-alike host", "https://hооks.example.com/x"],
    ["a backslash before @", "https://evil.example\\@hooks.example.com/x"],
  ])("the App resource refuses a webhook to %s", async (_what, url) => {
    const { failures } = await appProvider.check({}, { name: app, webhooks: [{ url, secretEnv: "HOOK_KEY" }] });
    expect(failures).toHaveLength(1);
    expect(failures?.[0]?.property).toBe("webhooks[0].url");
  });

  it("the agent does not POST to a receiver on 127.0.0.1 without allowPrivate", async () => {
    const failures = await deliverThroughRecord([{ url: local.url(), secretEnv: "HOOK_KEY" }]);
    expect(local.hits).toEqual([]);
    expect(failures.join("\n")).toContain(
      "127.0.0.1 is a loopback address; a webhook to an address inside a network needs allowPrivate: true",
    );
  });

  it("nor to a name that resolves to 127.0.0.1, checked when the event is sent", async () => {
    const name = hostname();
    // This machine's own name resolves to loopback here (/etc/hosts): the name a pull request could write.
    expect((await lookup(name)).address).toMatch(/^127\./);
    const failures = await deliverThroughRecord([{ url: local.url(name), secretEnv: "HOOK_KEY" }]);
    expect(local.hits).toEqual([]);
    expect(failures.join("\n")).toMatch(
      new RegExp(`${name} resolves to 127\\.[0-9.]+, a loopback address; .*needs allowPrivate: true`),
    );
  });

  it("and with allowPrivate: true, the same receiver gets the event", async () => {
    const failures = await deliverThroughRecord([{ url: local.url(), allowPrivate: true, secretEnv: "HOOK_KEY" }]);
    expect(failures).toEqual([]);
    expect(local.hits).toHaveLength(1);
    expect(JSON.parse(local.hits[0]?.body ?? "{}")).toMatchObject({ kind: "created", app });
  });

  it("a redirect is never followed, even from an allowed receiver", async () => {
    const target = await receiver();
    const redirecting = await receiver(() => [307, { location: target.url() }]);
    try {
      const failures = await deliverThroughRecord([
        { url: redirecting.url(), allowPrivate: true, secretEnv: "HOOK_KEY" },
      ]);
      expect(redirecting.hits).toHaveLength(1);
      expect(target.hits).toEqual([]);
      expect(failures.join("\n")).toContain("answered 307 (a redirect, which webhooks never follow)");
    } finally {
      await Promise.all([target.close(), redirecting.close()]);
    }
  });
});
