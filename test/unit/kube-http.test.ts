// sandfleet's own Kubernetes client against an HTTPS server the test runs on
// 127.0.0.1, with a certificate authority made for it: each kind of
// credential, the exec plugin's cache and its refresh on a 401, TLS checked
// unless the kubeconfig says otherwise, the API's Status in errors, and the
// exec subresource's channel protocol (v5) over a WebSocket server.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { WebSocketServer } from "ws";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { NotFoundError } from "../../provider/errors.ts";
import { translateKubernetesError } from "../../provider/engines/kubernetes/errors.ts";
import { connectionConfig } from "../../provider/engines/kubernetes/kube-http/connection-config.ts";
import {
  EXEC_PROTOCOLS,
  exitCodeOf,
  joinExecChannels,
} from "../../provider/engines/kubernetes/kube-http/exec-channels.ts";
import { kubeHttp } from "../../provider/engines/kubernetes/kube-http/http.ts";
import { loadConnection } from "../../provider/engines/kubernetes/kube-http/load.ts";
import { microTime } from "../../provider/engines/kubernetes/lease.ts";
import { openSocket } from "../../provider/engines/kubernetes/kube-http/socket.ts";
import { makeTestCa, type TestCa, writeTestKubeconfig } from "../support/test-ca.ts";

interface Seen {
  authorization?: string;
  clientName?: string;
  method: string;
  url: string;
  contentType?: string;
  body: string;
}

const dir = mkdtempSync(join(tmpdir(), "sandfleet-kube-http-"));
let ca: TestCa;
let server: Server;
let url = "";
const seen: Seen[] = [];
/** Bearer tokens the server takes; any other is a 401. */
const accepted = new Set(["good-token", "plugin-token-1", "plugin-token-2", "plugin-token-3"]);

function answer(request: IncomingMessage, response: ServerResponse, body: string) {
  const authorization = request.headers.authorization;
  // An empty object when the client sent no certificate.
  const peer = (
    request.socket as unknown as { getPeerCertificate(): { subject?: { CN?: string } } }
  ).getPeerCertificate();
  seen.push({
    ...(authorization ? { authorization } : {}),
    ...(peer.subject?.CN ? { clientName: peer.subject.CN } : {}),
    method: request.method ?? "",
    url: request.url ?? "",
    ...(request.headers["content-type"] ? { contentType: request.headers["content-type"] } : {}),
    body,
  });
  const status = (code: number, message: string, reason: string) => {
    response.writeHead(code, { "Content-Type": "application/json" });
    response.end(JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", message, reason, code }));
  };
  const bearer = authorization?.startsWith("Bearer ") ? authorization.slice(7) : undefined;
  const basic = authorization === `Basic ${Buffer.from("alice:s3cret").toString("base64")}`;
  if (!peer.subject && !basic && !(bearer && accepted.has(bearer))) {
    status(401, "Unauthorized", "Unauthorized");
    return;
  }
  if (request.url === "/big") {
    response.writeHead(200, { "Content-Type": "application/json" });
    response.end(JSON.stringify({ items: "x".repeat(5000) }));
    return;
  }
  // Answers nothing, ever: the client gives up.
  if (request.url === "/stall") return;
  if (request.url?.startsWith("/api/v1/namespaces/ns/pods/missing")) {
    status(404, 'pods "missing" not found', "NotFound");
    return;
  }
  response.writeHead(200, { "Content-Type": "application/json" });
  response.end(JSON.stringify({ kind: "Pod", metadata: { name: "p", creationTimestamp: "2026-01-01T00:00:00Z" } }));
}

function kubeconfig(name: string, user: Record<string, unknown>, cluster: Record<string, unknown> = {}): string {
  return writeTestKubeconfig(join(dir, `${name}.kubeconfig`), url, ca.files.ca, [user], cluster);
}

/** A client of the kubeconfig, as the engine makes one (allowed to run plugins: the gate is tested apart). */
const clientOf = (file: string) => kubeHttp(loadConnection({ kubeconfig: file, allowExecCredentials: true }));

beforeAll(async () => {
  ca = makeTestCa(dir);
  server = createServer({
    cert: ca.serverCert,
    key: ca.serverKey,
    ca: ca.ca,
    requestCert: true,
    rejectUnauthorized: false,
  });
  server.on("request", (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      answer(request, response, Buffer.concat(chunks).toString("utf8"));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `https://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  seen.length = 0;
});

describe("kube-http credentials", () => {
  it("a written token goes out as a bearer token, over TLS checked against the kubeconfig's CA", async () => {
    const pod = await clientOf(kubeconfig("token", { token: "good-token" })).json<{ metadata: { name: string } }>(
      "GET",
      "/api/v1/namespaces/ns/pods/p",
    );
    expect(pod.metadata.name).toBe("p");
    expect(seen[0]?.authorization).toBe("Bearer good-token");
  });

  it("a tokenFile is read for every request: a token rotated in place is the one sent", async () => {
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, "good-token\n");
    const client = clientOf(kubeconfig("token-file", { tokenFile: "token" }));
    await client.json("GET", "/api/v1/namespaces/ns/pods/p");
    writeFileSync(tokenFile, "rotated-token\n");
    await expect(client.json("GET", "/api/v1/namespaces/ns/pods/p")).rejects.toMatchObject({ code: 401 });
    expect(seen.map((s) => s.authorization)).toEqual(["Bearer good-token", "Bearer rotated-token"]);
  });

  it("basic auth sends the user and password", async () => {
    await clientOf(kubeconfig("basic", { username: "alice", password: "s3cret" })).json("GET", "/api/v1/x");
    expect(seen[0]?.authorization).toBe(`Basic ${Buffer.from("alice:s3cret").toString("base64")}`);
  });

  it("a client certificate and key, as files and as data, sign in as their subject", async () => {
    await clientOf(
      kubeconfig("cert-files", { "client-certificate": ca.files.clientCert, "client-key": ca.files.clientKey }),
    ).json("GET", "/api/v1/x");
    await clientOf(
      kubeconfig("cert-data", {
        "client-certificate-data": Buffer.from(ca.clientCert).toString("base64"),
        "client-key-data": Buffer.from(ca.clientKey).toString("base64"),
      }),
    ).json("GET", "/api/v1/x");
    expect(seen.map((s) => [s.clientName, s.authorization])).toEqual([
      ["test-user", undefined],
      ["test-user", undefined],
    ]);
  });

  it("requests share one kept-alive connection", async () => {
    const client = clientOf(kubeconfig("keep", { token: "good-token" }));
    const sockets = new Set<unknown>();
    const count = (_: unknown, socket: unknown) => sockets.add(socket);
    server.on("request", (request: IncomingMessage) => count(undefined, request.socket));
    for (let i = 0; i < 3; i++) await client.json("GET", "/api/v1/x");
    server.removeAllListeners("request");
    server.on("request", (request: IncomingMessage, response: ServerResponse) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        answer(request, response, Buffer.concat(chunks).toString("utf8"));
      });
    });
    expect(sockets.size).toBe(1);
  });
});

describe("kube-http exec credential plugins", () => {
  /** A plugin that counts its runs in a file and answers plugin-token-N, expiring at `expires`. */
  const plugin = (name: string, expires?: string, apiVersion = "client.authentication.k8s.io/v1") => {
    const counter = join(dir, `${name}.runs`);
    const script = join(dir, `${name}.sh`);
    writeFileSync(
      script,
      [
        "#!/bin/sh",
        `n=$(( $(cat ${counter} 2>/dev/null || echo 0) + 1 ))`,
        `echo $n > ${counter}`,
        `echo "$KUBERNETES_EXEC_INFO" > ${counter}.info`,
        `printf '{"apiVersion":"${apiVersion}","kind":"ExecCredential","status":{"token":"plugin-token-%s"${expires ? `,"expirationTimestamp":"${expires}"` : ""}}}' $n`,
      ].join("\n"),
    );
    chmodSync(script, 0o755);
    return { exec: { apiVersion, command: script, args: [] }, runs: () => Number(readOr(counter, "0")) };
  };

  it("runs once and is kept while it has not expired (v1)", async () => {
    const { exec, runs } = plugin("cached", new Date(Date.now() + 3_600_000).toISOString());
    const client = clientOf(kubeconfig("plugin-cached", { exec }));
    for (let i = 0; i < 3; i++) await client.json("GET", "/api/v1/x");
    expect(runs()).toBe(1);
    expect(seen.map((s) => s.authorization)).toEqual(Array(3).fill("Bearer plugin-token-1"));
    expect(readOr(join(dir, "cached.runs.info"), "")).toContain('"interactive":false');
  });

  it("runs again once its credential has expired (v1beta1)", async () => {
    const { exec, runs } = plugin("expired", "2000-01-01T00:00:00Z", "client.authentication.k8s.io/v1beta1");
    const client = clientOf(kubeconfig("plugin-expired", { exec }));
    await client.json("GET", "/api/v1/x");
    await client.json("GET", "/api/v1/x");
    expect(runs()).toBe(2);
    expect(seen.map((s) => s.authorization)).toEqual(["Bearer plugin-token-1", "Bearer plugin-token-2"]);
  });

  it("runs again on a 401, and the request is sent once more with the new credential", async () => {
    const { exec, runs } = plugin("refused");
    accepted.delete("plugin-token-1");
    try {
      const client = clientOf(kubeconfig("plugin-refused", { exec }));
      await client.json("GET", "/api/v1/x");
      expect(runs()).toBe(2);
      expect(seen.map((s) => s.authorization)).toEqual(["Bearer plugin-token-1", "Bearer plugin-token-2"]);
    } finally {
      accepted.add("plugin-token-1");
    }
  });

  it("a plugin that fails says whose and how, and not what it printed", async () => {
    const script = join(dir, "failing.sh");
    writeFileSync(script, "#!/bin/sh\necho 'secret-on-stdout'\necho 'no login' >&2\nexit 3\n");
    chmodSync(script, 0o755);
    const client = clientOf(
      kubeconfig("plugin-failing", {
        exec: { apiVersion: "client.authentication.k8s.io/v1", command: script },
      }),
    );
    const error = (await client.json("GET", "/api/v1/x").catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(/exec credential plugin of kubeconfig user "u" ended with exit code 3: no login/);
    expect(error.message).not.toContain("secret-on-stdout");
  });

  it("a kubeconfig named by the target runs no plugin unless allowed", () => {
    const marker = join(dir, "ran");
    const script = join(dir, "marker.sh");
    writeFileSync(script, `#!/bin/sh\ntouch ${marker}\n`);
    chmodSync(script, 0o755);
    const file = kubeconfig("gated", { exec: { apiVersion: "client.authentication.k8s.io/v1", command: script } });
    expect(() => loadConnection({ kubeconfig: file })).toThrow(/runs an exec credential plugin/);
    expect(existsSync(marker)).toBe(false);
  });
});

describe("kube-http TLS", () => {
  it("is verified by default: a server whose certificate the kubeconfig does not trust is refused", async () => {
    const file = kubeconfig("no-ca", { token: "good-token" }, { "certificate-authority": undefined });
    const error = (await clientOf(file)
      .json("GET", "/api/v1/x")
      .catch((e: unknown) => e)) as NodeJS.ErrnoException;
    expect(error.code).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/);
    expect(seen).toEqual([]);
  });

  it("a server name the certificate does not hold is refused, and tls-server-name picks the one it does", async () => {
    const wrong = kubeconfig("wrong-name", { token: "good-token" }, { "tls-server-name": "other.test" });
    await expect(clientOf(wrong).json("GET", "/api/v1/x")).rejects.toMatchObject({
      code: "ERR_TLS_CERT_ALTNAME_INVALID",
    });
    const right = kubeconfig("right-name", { token: "good-token" }, { "tls-server-name": "api.test" });
    await clientOf(right).json("GET", "/api/v1/x");
    expect(seen).toHaveLength(1);
  });

  it("is skipped only when the kubeconfig says insecure-skip-tls-verify", async () => {
    const file = kubeconfig(
      "insecure",
      { token: "good-token" },
      { "certificate-authority": undefined, "insecure-skip-tls-verify": true },
    );
    await clientOf(file).json("GET", "/api/v1/x");
    expect(seen).toHaveLength(1);
  });
});

describe("kube-http errors and bodies", () => {
  it("a refusal carries the HTTP status and the API's Status message, and no credential", async () => {
    const client = clientOf(kubeconfig("status", { token: "good-token" }));
    const error = await client.json("GET", "/api/v1/namespaces/ns/pods/missing").catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 404 });
    expect((error as Error).message).not.toContain("good-token");
    const translated = translateKubernetesError(error, "read pod missing", "kubernetes://x/ns");
    expect(translated).toBeInstanceOf(NotFoundError);
    expect(translated.message).toBe('read pod missing: pods "missing" not found');
  });

  it("a patch goes out with its content type, a query with its list repeated", async () => {
    const client = clientOf(kubeconfig("patch", { token: "good-token" }));
    await client.json("PATCH", "/api/v1/namespaces/ns/pods/p", {
      body: [{ op: "test", path: "/a", value: 1 }],
      contentType: "application/json-patch+json",
      query: { fieldManager: "sandfleet", command: ["sh", "-c", "echo a&b"] },
    });
    expect(seen[0]).toMatchObject({
      method: "PATCH",
      contentType: "application/json-patch+json",
      body: '[{"op":"test","path":"/a","value":1}]',
      url: "/api/v1/namespaces/ns/pods/p?fieldManager=sandfleet&command=sh&command=-c&command=echo+a%26b",
    });
  });

  it("a server cannot fill or hold the process: a body past the bound and a silent server are refused", async () => {
    const config = loadConnection({ kubeconfig: kubeconfig("bounds", { token: "good-token" }) });
    const bounded = kubeHttp(config, { maxBodyBytes: 1000, idleMs: 300 });
    await expect(bounded.json("GET", "/big")).rejects.toThrow(/larger than 1000 bytes/);
    await expect(bounded.json("GET", "/stall")).rejects.toMatchObject({ code: "ETIMEDOUT" });
    await expect(kubeHttp(config).json("GET", "/big")).resolves.toMatchObject({ items: "x".repeat(5000) });
  });

  it("a lease's times are the API's MicroTime", () => {
    expect(microTime("2026-01-02T03:04:05.678Z")).toBe("2026-01-02T03:04:05.678000Z");
  });

  it("several kubeconfigs merge as kubectl merges them: the first to name a thing, or a current context, wins", () => {
    const first = {
      "current-context": "a",
      clusters: [{ name: "c", cluster: { server: "https://first.test" } }],
      contexts: [{ name: "a", context: { cluster: "c", user: "u", namespace: "one" } }],
      users: [{ name: "u", user: { token: "first-token", tokenFile: "token" } }],
    };
    const second = {
      "current-context": "b",
      clusters: [{ name: "c", cluster: { server: "https://second.test" } }],
      contexts: [{ name: "b", context: { cluster: "c", user: "v" } }],
      users: [
        { name: "u", user: { token: "second-token" } },
        { name: "v", user: { username: "alice", password: "pw" } },
      ],
    };
    const merged = connectionConfig([
      { document: first, folder: "/one", name: "first" },
      { document: second, folder: "/two", name: "second" },
    ]);
    expect(merged).toMatchObject({
      context: "a",
      namespace: "one",
      cluster: { server: "https://first.test", insecure: false },
      user: { name: "u", token: "first-token", tokenFile: "/one/token" },
    });
    const other = connectionConfig(
      [
        { document: first, folder: "/one", name: "first" },
        { document: second, folder: "/two", name: "second" },
      ],
      "b",
    );
    expect(other).toMatchObject({ context: "b", user: { name: "v", username: "alice", password: "pw" } });
    expect(other.namespace).toBeUndefined();
  });

  it("what sandfleet does not read is refused, naming the kubeconfig", () => {
    const config = (cluster: Record<string, unknown>, user: Record<string, unknown> = {}) => ({
      "current-context": "x",
      clusters: [{ name: "c", cluster: { server: "https://api.test", ...cluster } }],
      contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
      users: [{ name: "u", user }],
    });
    const read = (document: unknown) => () => connectionConfig([{ document, folder: dir, name: "k" }]);
    expect(read(config({ "proxy-url": "http://proxy.test:3128" }))).toThrow(/kubeconfig k: .*proxy-url/);
    expect(read(config({}, { "auth-provider": { name: "oidc" } }))).toThrow(/kubeconfig k: .*auth-provider/);
    expect(read(config({ server: "ftp://api.test" }))).toThrow(/must be an https:\/\/ \(or http:\/\/\) address/);
  });

  it("a named kubeconfig with a user written twice signs in as the first, as kubectl does, and is not refused", async () => {
    const file = writeTestKubeconfig(join(dir, "twice.kubeconfig"), url, ca.files.ca, [
      { token: "good-token" },
      { token: "other-token" },
    ]);
    await kubeHttp(loadConnection({ kubeconfig: file })).json("GET", "/api/v1/namespaces/ns/pods/p");
    expect(seen[0]?.authorization).toBe("Bearer good-token");
  });

  it("a context that is not there is named", () => {
    expect(() => connectionConfig([{ document: { contexts: [] }, folder: dir, name: "k" }], "gone")).toThrow(
      'kubeconfig k: no context named "gone"',
    );
  });
});

describe("kube-http exec channels (v5)", () => {
  it("sends stdin, closes it as v5 says, and the closing status gives the exit code", async () => {
    const wss = new WebSocketServer({
      noServer: true,
      handleProtocols: (offered) => (offered.has("v5.channel.k8s.io") ? "v5.channel.k8s.io" : false),
    });
    const received: Buffer[] = [];
    let query = "";
    const upgrade = (request: IncomingMessage, socket: import("node:stream").Duplex, head: Buffer) => {
      query = request.url ?? "";
      wss.handleUpgrade(request, socket, head, (ws) => {
        ws.on("message", (data: Buffer) => {
          received.push(Buffer.from(data));
          if (data[0] === 255 && data[1] === 0) {
            // stdin closed: echo what came, a line on stderr, and fail with exit code 3.
            const input = Buffer.concat(received.filter((m) => m[0] === 0).map((m) => m.subarray(1)));
            ws.send(Buffer.concat([Buffer.from([1]), input]));
            ws.send(Buffer.concat([Buffer.from([2]), Buffer.from("warn\n")]));
            ws.send(
              Buffer.concat([
                Buffer.from([3]),
                Buffer.from(
                  JSON.stringify({
                    status: "Failure",
                    reason: "NonZeroExitCode",
                    details: { causes: [{ reason: "ExitCode", message: "3" }] },
                  }),
                ),
              ]),
            );
            ws.close();
          }
        });
      });
    };
    server.on("upgrade", upgrade);
    try {
      const client = clientOf(kubeconfig("exec", { token: "good-token" }));
      const socket = await openSocket(
        client,
        "/api/v1/namespaces/ns/pods/p/exec",
        { command: ["cat"], stdin: true, stdout: true, stderr: true, container: "sandbox" },
        EXEC_PROTOCOLS,
      );
      expect(socket.protocol).toBe("v5.channel.k8s.io");
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      const stdin = new PassThrough();
      const code = new Promise<number>((resolve) => {
        joinExecChannels(socket, { stdout, stderr, stdin }, (status) => {
          resolve(exitCodeOf(status));
        });
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      stdout.on("data", (c: Buffer) => out.push(c));
      stderr.on("data", (c: Buffer) => err.push(c));
      stdin.end("hello\n");
      expect(await code).toBe(3);
      await new Promise((resolve) => socket.once("close", resolve));
      expect(Buffer.concat(out).toString()).toBe("hello\n");
      expect(Buffer.concat(err).toString()).toBe("warn\n");
      expect(received.at(-1)).toEqual(Buffer.from([255, 0]));
      expect(query).toContain("command=cat&stdin=true");
    } finally {
      server.off("upgrade", upgrade);
      wss.close();
    }
  });

  it("what the server says as soon as it answers is kept until the caller listens", async () => {
    const wss = new WebSocketServer({ noServer: true, handleProtocols: () => "v5.channel.k8s.io" });
    const upgrade = (request: IncomingMessage, socket: import("node:stream").Duplex, head: Buffer) => {
      wss.handleUpgrade(request, socket, head, (ws) => {
        // A port-forward's first frames come with the answer: here, output and the closing status.
        ws.send(Buffer.concat([Buffer.from([1]), Buffer.from("early\n")]));
        ws.send(Buffer.concat([Buffer.from([3]), Buffer.from(JSON.stringify({ status: "Success" }))]));
        ws.close();
      });
    };
    server.on("upgrade", upgrade);
    try {
      const client = clientOf(kubeconfig("early", { token: "good-token" }));
      const socket = await openSocket(
        client,
        "/api/v1/namespaces/ns/pods/p/exec",
        { command: ["true"] },
        EXEC_PROTOCOLS,
      );
      // The caller is slow to listen: a turn of the event loop passes.
      await new Promise((resolve) => setImmediate(resolve));
      const stdout = new PassThrough();
      const out: Buffer[] = [];
      stdout.on("data", (c: Buffer) => out.push(c));
      const code = new Promise<number>((resolve) => {
        joinExecChannels(socket, { stdout, stderr: new PassThrough() }, (status) => {
          resolve(exitCodeOf(status));
        });
      });
      expect(await code).toBe(0);
      expect(Buffer.concat(out).toString()).toBe("early\n");
    } finally {
      server.off("upgrade", upgrade);
      wss.close();
    }
  });

  it("a refused WebSocket says the status and the API's message", async () => {
    const client = clientOf(kubeconfig("exec-refused", { token: "bad-token" }));
    await expect(
      openSocket(client, "/api/v1/namespaces/ns/pods/p/exec", { command: ["true"] }, EXEC_PROTOCOLS),
    ).rejects.toThrow(/Unexpected server response: 401 \(Unauthorized\)/);
  });
});

function readOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return fallback;
  }
}
