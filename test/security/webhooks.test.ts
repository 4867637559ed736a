// The author of a pull request declares webhooks in sandfleet.yaml, and the
// agent on the deploy side POSTs to them: a webhook must not become a way to
// reach what only that machine can reach (loopback services such as an
// engine's API on 127.0.0.1:2375, cloud metadata on 169.254.169.254, private
// networks) unless the operator wrote `allowPrivate: true`.
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { lookup } from "node:dns/promises";
import type { AddressInfo } from "node:net";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appProvider } from "../../provider/resources/app-provider.ts";
import type { SandboxEvent } from "../../provider/runtime/engine-state/event-kinds.ts";
import { readWebhooks, writeWebhooks, type Webhook } from "../../provider/runtime/observability/webhooks.ts";
import { WebhookDelivery } from "../../provider/runtime/observability/webhook-delivery.ts";
import { receiverKey } from "../../provider/runtime/observability/webhook-store.ts";
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
  const stateDir = mkdtempSync(join(tmpdir(), "sandfleet-hook-state-"));
  const delivery = new WebhookDelivery(
    { engine: docker.host, app },
    {
      env: { HOOK_KEY: "k" },
      stateDir,
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
    rmSync(stateDir, { recursive: true, force: true });
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

// Another account on the agent's machine: the queue of waiting deliveries holds
// event bodies that the agent signs with an app's key at each attempt. Reading
// them tells what runs; writing one would have the agent sign and send a forged
// event that the receiver trusts.
describe("queued webhook deliveries on the agent's disk", () => {
  const key = `queue-signing-key-${String(process.pid)}`;
  const nobody = ["--reuid=65534", "--regid=65534", "--clear-groups"];
  /** A state directory the test makes inside a folder every account may enter, so that only sandfleet's own modes stand in the way. */
  const parents: string[] = [];
  afterAll(() => {
    for (const dir of parents.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const stateDir = () => {
    const parent = mkdtempSync(join(tmpdir(), "sandfleet-queue-sec-"));
    parents.push(parent);
    chmodSync(parent, 0o755);
    return join(parent, "state");
  };
  const queue = (dir: string, failures: string[]) =>
    new WebhookDelivery(
      { engine: docker.host, app },
      { env: { HOOK_KEY: key }, stateDir: dir, onFailure: (message) => failures.push(message) },
    );
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? [join(dir, e.name), ...walk(join(dir, e.name))] : [join(dir, e.name)],
    );

  it("are 0600 files in 0700 directories without the signing key, which another account can neither read nor add to", async () => {
    const down = await receiver(() => [503]);
    const dir = stateDir();
    const failures: string[] = [];
    const delivery = queue(dir, failures);
    try {
      delivery.open();
      const url = `${down.url()}/TOKEN-in-the-path-5f3a`;
      delivery.use(new Map([[app, [{ url, allowPrivate: true, secretEnv: "HOOK_KEY" }]]]));
      await delivery.take(event());
      await until("an attempt to fail", () => Promise.resolve(failures.some((f) => f.includes("answered 503"))));
      const paths = [dir, ...walk(dir)];
      const records = paths.filter((p) => p.endsWith(".json") && /\d{16}/.test(p));
      expect(records).toHaveLength(1);
      for (const path of paths) {
        const stat = lstatSync(path);
        expect([path, stat.mode & 0o777]).toEqual([path, stat.isDirectory() ? 0o700 : 0o600]);
        if (stat.isFile()) {
          const text = readFileSync(path, "utf8");
          expect(text).not.toContain(key);
          expect(text).not.toContain("sha256=");
        }
      }
      // The token a URL's path may hold stays out of the agent's log (receivers are named by origin and a hash).
      expect(failures.join("\n")).not.toContain("TOKEN-in-the-path");
      const record = records[0] ?? "";
      const read = spawnSync("setpriv", [...nobody, "cat", record], { encoding: "utf8" });
      expect(read.status).not.toBe(0);
      expect(read.stderr).toContain("Permission denied");
      const plant = spawnSync(
        "setpriv",
        [...nobody, "sh", "-c", `echo '{}' > "${join(record, "..", "0000000000000099.json")}"`],
        { encoding: "utf8" },
      );
      expect(plant.status).not.toBe(0);
      expect(plant.stderr).toContain("Permission denied");
    } finally {
      await delivery.close();
      await down.close();
    }
  });

  it("a state directory another account could have written into is refused, as are a symlink and another's directory", () => {
    const failures: string[] = [];
    for (const mode of [0o777, 0o770, 0o702]) {
      const dir = stateDir();
      mkdirSync(dir);
      chmodSync(dir, mode);
      expect(() => queue(dir, failures).open()).toThrow(
        `${dir} can be written by others (mode ${mode.toString(8).padStart(4, "0")})`,
      );
    }
    const theirs = stateDir();
    mkdirSync(theirs, { mode: 0o700 });
    chownSync(theirs, 65534, 65534);
    expect(() => queue(theirs, failures).open()).toThrow(`${theirs} belongs to uid 65534, not to this user`);
    const real = stateDir();
    mkdirSync(real, { mode: 0o700 });
    const link = stateDir();
    symlinkSync(real, link);
    expect(() => queue(link, failures).open()).toThrow(`${link} is a symlink`);
    // One others may only read is left as it is (an operator's choice); the queue inside is 0700 all the same.
    const readable = stateDir();
    mkdirSync(readable, { mode: 0o755 });
    chmodSync(readable, 0o755);
    const delivery = queue(readable, failures);
    delivery.open();
    expect(lstatSync(readable).mode & 0o777).toBe(0o755);
    expect(lstatSync(join(readable, "webhooks")).mode & 0o777).toBe(0o700);
    expect(lstatSync(delivery.directory).mode & 0o777).toBe(0o700);
    return delivery.close();
  });

  it("a delivery record the agent did not write (another owner, loose mode, a symlink) is skipped, never signed nor sent", async () => {
    const up = await receiver(() => [200]);
    const url = up.url();
    const hooks = new Map([[app, [{ url, allowPrivate: true, secretEnv: "HOOK_KEY" }]]]);
    const dir = stateDir();
    const failures: string[] = [];
    const first = queue(dir, failures);
    first.open();
    first.use(new Map()); // no receiver yet: nothing is sent, the queue is made
    await first.close();
    const receiverDir = join(first.directory, `r-${receiverKey(app, url)}`);
    mkdirSync(receiverDir, { mode: 0o700 });
    const forged = (seq: number, sandbox: string) =>
      `${JSON.stringify({
        v: 1,
        id: "f".repeat(32),
        seq,
        app,
        url,
        queuedMs: Date.now(),
        body: JSON.stringify({ ...event(), sandbox }),
      })}\n`;
    const foreign = join(receiverDir, "0000000000000001.json");
    writeFileSync(foreign, forged(1, "forged-by-another-owner"), { mode: 0o600 });
    chownSync(foreign, 65534, 65534);
    writeFileSync(join(receiverDir, "0000000000000002.json"), forged(2, "forged-loose-mode"), { mode: 0o644 });
    chmodSync(join(receiverDir, "0000000000000002.json"), 0o644);
    const elsewhere = join(stateDir(), "..", "forged-elsewhere.json");
    writeFileSync(elsewhere, forged(3, "forged-through-a-symlink"), { mode: 0o600 });
    symlinkSync(elsewhere, join(receiverDir, "0000000000000003.json"));

    const second = queue(dir, failures);
    try {
      second.open();
      second.use(hooks);
      await second.take({ ...event(), sandbox: "genuine" });
      await until("the genuine event to arrive", () => Promise.resolve(up.hits.length > 0));
      expect(up.hits.map((h) => (JSON.parse(h.body) as SandboxEvent).sandbox)).toEqual(["genuine"]);
      const log = failures.join("\n");
      expect(log).toContain("0000000000000001.json: owned by uid 65534, not by the agent's user");
      expect(log).toContain("0000000000000002.json: readable or writable by others (mode 644)");
      expect(log).toContain("0000000000000003.json: a symlink");
    } finally {
      await second.close();
      await up.close();
    }
  });
});
