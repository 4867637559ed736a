import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import type { Sandfleet } from "../client/sandfleet.ts";
import { randomHex } from "../digest.ts";
import { InvalidArgumentError, NotFoundError, SandfleetError } from "../errors.ts";
import type { Sandbox } from "../client/sandbox.ts";
import { parseDuration } from "../spec/units.ts";
import { DashboardFeed } from "./dashboard-feed.ts";
import { foreignRequest, hostAllowed, LOOPBACK } from "./dashboard-guard.ts";
import { listen, parseListenAddress } from "./listen.ts";

export type { DashboardOverview, DashboardSandbox, EngineDescription, UsagePoint } from "./dashboard-model.ts";

export interface DashboardOptions {
  /** `host:port`; default 127.0.0.1:7777. */
  address?: string;
  /** Only this app. */
  app?: string;
  /** Required of every request; default none on a loopback address, a random one elsewhere. */
  token?: string;
}

const POST_HEADER = "x-sandfleet-dashboard";
/** The version of the pushed overview that shows an action's result. */
const SHOWN_HEADER = "x-sandfleet-shown-version";
/** What a page's stream may hold unread before the page is let go. */
const MAX_UNREAD_BYTES = 16 * 1024 * 1024;
const COOKIE = "sandfleet_dashboard";
const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

/**
 * `sandfleet dashboard`: a local web page of the engine's apps, pools and
 * sandboxes, with each one's live log, events and recent use, and pause,
 * resume, extend and terminate. The page is built with the package; this
 * serves it, and pushes it what changes (`/api/stream`, server-sent events)
 * from one reader of the engine shared by every open page.
 *
 * Bound to loopback it needs no token; bound elsewhere it needs one (made
 * here when not given). It answers only requests addressed to its own host
 * (no DNS rebinding), serves its API (streams included) only to its own
 * page's origin, and takes an action only with a header a cross-site form
 * cannot send.
 */
export async function serveDashboard(
  sandfleet: Sandfleet,
  options: DashboardOptions = {},
): Promise<{ url: string; token: string | undefined; close: () => Promise<void> }> {
  const { host, port } = parseListenAddress(options.address ?? "127.0.0.1:7777");
  const token = options.token ?? (LOOPBACK.test(host) ? undefined : randomHex(16));
  const assets = assetsDir();
  const openStreams = new Set<AbortController>();
  // Loaded here, not at import: every run of the CLI imports this module, few serve anything.
  const { createServer } = await import("node:http");
  const feed = new DashboardFeed(sandfleet.port, options.app);

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      sendError(response, error);
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", "http://dashboard");
    if (!hostAllowed(request.headers.host, host, boundPort(server, port))) {
      response.writeHead(421).end("this dashboard answers only to its own address\n");
      return;
    }
    if (token !== undefined) {
      if (url.searchParams.get("token") === token && request.method === "GET" && url.pathname === "/") {
        // Kept as a cookie, so that the token leaves the address bar and history.
        response
          .writeHead(303, { location: "/", "set-cookie": `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/` })
          .end();
        return;
      }
      if (!authorized(request, token)) {
        response.writeHead(401, { "content-type": "text/plain" }).end("a token is needed: open the URL it printed\n");
        return;
      }
    }
    if (url.pathname.startsWith("/api/")) {
      const foreign = foreignRequest(request.headers);
      if (foreign !== undefined) {
        response.writeHead(403, { "content-type": "text/plain" }).end(`${foreign}\n`);
        return;
      }
      await api(request, response, url);
      return;
    }
    await serveAsset(response, assets, url.pathname);
  }

  async function api(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
    const parts = url.pathname.split("/").filter(Boolean).slice(1); // after "api"
    if (request.method === "GET" && parts[0] === "overview") {
      sendJson(response, await feed.overview());
      return;
    }
    if (request.method === "GET" && parts[0] === "stream") {
      streamFeed(request, response);
      return;
    }
    if (request.method === "GET" && parts[0] === "events") {
      await streamEvents(request, response, url);
      return;
    }
    if (parts[0] !== "sandboxes" || !parts[1]) throw new NotFoundError(`no such page: ${url.pathname}`);
    const sandbox = await sandfleet.sandboxes.fromId(decodeURIComponent(parts[1]));
    if (options.app !== undefined && sandbox.app !== options.app)
      throw new NotFoundError(`sandbox ${parts[1]} is not of app ${options.app}`);
    if (request.method === "GET" && parts[2] === "logs") {
      await streamLogs(request, response, sandbox);
      return;
    }
    if (request.method === "POST" && parts[2]) {
      // A header no cross-site form or image can send: a page elsewhere cannot act through a visitor's browser.
      if (request.headers[POST_HEADER] !== "1") {
        response.writeHead(403).end(`actions need the ${POST_HEADER} header\n`);
        return;
      }
      const done = await act(sandbox, parts[2], await readBody(request));
      // Answered once every page has been pushed what the engine now says, with the version that shows it.
      await feed.refresh(sandbox.id);
      sendJson(response, done, { [SHOWN_HEADER]: String(feed.version) });
      return;
    }
    throw new NotFoundError(`no such page: ${url.pathname}`);
  }

  /** Pushes the feed to one page: what is known at once, then each change, until the page goes. */
  function streamFeed(request: IncomingMessage, response: ServerResponse): void {
    const controller = openStream(request, response);
    const unsubscribe = feed.subscribe((event, json) => {
      // A page that stopped reading is let go, so that the server never holds more than this for it.
      if (response.writableLength > MAX_UNREAD_BYTES) {
        controller.abort();
        return;
      }
      response.write(`event: ${event}\ndata: ${json}\n\n`);
    });
    const keepAlive = setInterval(() => response.write(": still here\n\n"), 15_000);
    controller.signal.addEventListener("abort", () => {
      clearInterval(keepAlive);
      unsubscribe();
      openStreams.delete(controller);
      response.end();
    });
  }

  async function streamEvents(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
    const controller = openStream(request, response);
    const since = Number(url.searchParams.get("sinceMs") ?? Date.now() - 10 * 60_000);
    const app = options.app ?? url.searchParams.get("app") ?? undefined;
    try {
      for await (const event of sandfleet.events({
        ...(app ? { app } : {}),
        sinceMs: since,
        signal: controller.signal,
      }))
        response.write(`data: ${JSON.stringify(event)}\n\n`);
    } finally {
      openStreams.delete(controller);
      response.end();
    }
  }

  async function streamLogs(request: IncomingMessage, response: ServerResponse, sandbox: Sandbox): Promise<void> {
    const controller = openStream(request, response);
    const { stdout, stderr } = await sandbox.logs({ follow: true, tail: 200 });
    const send = (stream: "stdout" | "stderr") => (chunk: Buffer) => {
      response.write(`data: ${JSON.stringify({ stream, text: chunk.toString("utf8") })}\n\n`);
    };
    stdout.on("data", send("stdout"));
    stderr.on("data", send("stderr"));
    const ended = Promise.all([
      new Promise((resolve) => stdout.once("close", resolve)),
      new Promise((resolve) => stderr.once("close", resolve)),
    ]);
    controller.signal.addEventListener("abort", () => {
      stdout.destroy();
      stderr.destroy();
    });
    await ended;
    openStreams.delete(controller);
    response.end();
  }

  function openStream(request: IncomingMessage, response: ServerResponse): AbortController {
    const controller = new AbortController();
    openStreams.add(controller);
    request.once("close", () => {
      controller.abort();
    });
    response.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      connection: "keep-alive",
    });
    response.write(": open\n\n");
    return controller;
  }

  const served = await listen(server, { host, port });
  const base = `${served.base}/`;
  return {
    url: token === undefined ? base : `${base}?token=${token}`,
    token,
    close: async () => {
      feed.close();
      for (const stream of openStreams) stream.abort();
      await served.close();
    },
  };
}

async function act(sandbox: Sandbox, action: string, body: Record<string, unknown>): Promise<unknown> {
  switch (action) {
    case "pause":
      return sandbox.pause();
    case "resume":
      await sandbox.resume();
      return { resumed: true };
    case "terminate":
      return { exitCode: await sandbox.terminate() };
    case "extend": {
      const duration = typeof body.duration === "string" ? body.duration : "";
      const ms = parseDuration(duration);
      if (ms === undefined) throw new InvalidArgumentError(`${JSON.stringify(duration)} is not a duration like 30m`);
      await sandbox.setTimeout(ms);
      return { deadline: new Date(Date.now() + ms).toISOString() };
    }
    default:
      throw new NotFoundError(`no action ${action}: pause, resume, extend or terminate`);
  }
}

function boundPort(server: { address: () => unknown }, asked: number): number {
  const bound = server.address();
  return typeof bound === "object" && bound !== null && "port" in bound ? Number(bound.port) : asked;
}

function authorized(request: IncomingMessage, token: string): boolean {
  if (request.headers.authorization === `Bearer ${token}`) return true;
  const cookies = (request.headers.cookie ?? "").split(";").map((c) => c.trim());
  return cookies.includes(`${COOKIE}=${token}`);
}

async function readBody(request: IncomingMessage): Promise<Record<string, unknown>> {
  let text = "";
  for await (const chunk of request) {
    text += (chunk as Buffer).toString();
    if (text.length > 64 * 1024) throw new InvalidArgumentError("the request body is too large");
  }
  if (!text.trim()) return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    throw new InvalidArgumentError("the request body is not JSON");
  }
}

async function serveAsset(response: ServerResponse, assets: string, path: string): Promise<void> {
  const relative = normalize(path === "/" ? "/index.html" : path).replace(/^\/+/, "");
  if (relative.startsWith("..")) {
    response.writeHead(404).end();
    return;
  }
  try {
    const { readFile } = await import("node:fs/promises");
    const body = await readFile(join(assets, relative));
    response
      .writeHead(200, {
        "content-type": CONTENT_TYPES[extname(relative)] ?? "application/octet-stream",
        "content-security-policy": "default-src 'self'; style-src 'self'; img-src 'self' data:",
        "x-content-type-options": "nosniff",
      })
      .end(body);
  } catch {
    response.writeHead(404, { "content-type": "text/plain" }).end(`not found: ${path}\n`);
  }
}

/** Where the built page is: dist/dashboard of the package, from the sources or the built files alike. */
function assetsDir(): string {
  return join(fileURLToPath(import.meta.resolve("sandfleet/package.json")), "..", "dist", "dashboard");
}

function sendJson(response: ServerResponse, value: unknown, headers: Record<string, string> = {}): void {
  response
    .writeHead(200, {
      "content-type": "application/json",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      ...headers,
    })
    .end(JSON.stringify(value));
}

function sendError(response: ServerResponse, error: unknown): void {
  const status =
    error instanceof NotFoundError
      ? 404
      : error instanceof InvalidArgumentError
        ? 400
        : error instanceof SandfleetError
          ? 409
          : 500;
  const message = error instanceof Error ? error.message : String(error);
  if (response.headersSent) response.end();
  else response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ error: message }));
}
