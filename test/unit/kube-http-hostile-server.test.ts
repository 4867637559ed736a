// sandfleet's own Kubernetes client against an API server that means it harm:
// one a pull request's kubeconfig names, or an impostor on 127.0.0.1 with a
// certificate the kubeconfig trusts. It lies in an exec's closing status,
// never closes, never answers an upgrade, refuses without end, redirects the
// client elsewhere, or floods a port-forward's error channel. The process
// neither crashes, nor hangs, nor fills its memory, nor sends its token on.
import { mkdtempSync, rmSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, type Duplex } from "node:stream";
import { WebSocketServer, type WebSocket as ServerSocket } from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeApis } from "../../provider/engines/kubernetes/api.ts";
import {
  EXEC_PROTOCOLS,
  exitCodeOf,
  joinExecChannels,
} from "../../provider/engines/kubernetes/kube-http/exec-channels.ts";
import { type AnswerBounds, type KubeHttp, kubeHttp } from "../../provider/engines/kubernetes/kube-http/http.ts";
import { loadConnection } from "../../provider/engines/kubernetes/kube-http/load.ts";
import { openSocket } from "../../provider/engines/kubernetes/kube-http/socket.ts";
import { openPortForward } from "../../provider/engines/kubernetes/port-forward.ts";
import { makeTestCa, type TestCa, writeTestKubeconfig } from "../support/test-ca.ts";

const dir = mkdtempSync(join(tmpdir(), "sandfleet-kube-hostile-"));
const TOKEN = "hostile-test-token";
let ca: TestCa;
let server: Server;
/** Where the hostile server redirects to: it records every Authorization header it hears. */
let elsewhere: HttpServer;
const heardElsewhere: string[] = [];
let url = "";
/** What the hostile server does with a WebSocket upgrade, per test. */
let onUpgrade: (request: IncomingMessage, socket: Duplex, head: Buffer) => void = () => undefined;
const wss = new WebSocketServer({ noServer: true, handleProtocols: () => "v5.channel.k8s.io" });

function client(bounds: AnswerBounds = { maxBodyBytes: 1 << 20, idleMs: 500 }): KubeHttp {
  const file = writeTestKubeconfig(join(dir, "kubeconfig.json"), url, ca.files.ca, [{ token: TOKEN }]);
  return kubeHttp(loadConnection({ kubeconfig: file }), bounds);
}

/** An exec whose server, once upgraded, does `act`; resolves with its exit code, stdout and socket. */
async function execAgainst(act: (ws: ServerSocket) => void) {
  onUpgrade = (request, socket, head) => {
    wss.handleUpgrade(request, socket, head, act);
  };
  const socket = await openSocket(client(), "/api/v1/namespaces/ns/pods/p/exec", { command: ["x"] }, EXEC_PROTOCOLS);
  const stdout = new PassThrough();
  const out: Buffer[] = [];
  stdout.on("data", (chunk: Buffer) => out.push(chunk));
  const ended = new Promise((resolve) => stdout.on("end", resolve));
  const code = await new Promise<number>((resolve) => {
    joinExecChannels(socket, { stdout, stderr: new PassThrough() }, (status) => {
      resolve(exitCodeOf(status));
    });
  });
  return { code, out, ended, socket };
}

const statusFrame = (status: unknown) => Buffer.concat([Buffer.from([3]), Buffer.from(JSON.stringify(status))]);
const failure = (message: unknown) => ({
  status: "Failure",
  reason: "NonZeroExitCode",
  details: { causes: [{ reason: "ExitCode", message }] },
});

beforeAll(async () => {
  ca = makeTestCa(dir);
  server = createServer({ cert: ca.serverCert, key: ca.serverKey });
  server.on("request", (request: IncomingMessage, response: ServerResponse) => {
    if (request.url?.startsWith("/redirect")) {
      const target = `http://127.0.0.1:${String((elsewhere.address() as AddressInfo).port)}/api/v1/namespaces/ns/pods/p`;
      response.writeHead(request.url === "/redirect/307" ? 307 : 302, { Location: target });
      response.end();
      return;
    }
    if (request.url === "/drip") {
      // A byte now and then, never the end: each comes before the idle bound runs out.
      response.writeHead(200, { "Content-Type": "application/json" });
      response.write("{");
      const drip = setInterval(() => response.write(" "), 50);
      response.on("close", () => {
        clearInterval(drip);
      });
      return;
    }
    if (request.url === "/huge-header") {
      response.writeHead(200, { "Content-Type": "application/json", "X-Filler": "a".repeat(1 << 20) });
      response.end("{}");
      return;
    }
    response.writeHead(200, { "Content-Type": "application/json" });
    response.end("{}");
  });
  server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    onUpgrade(request, socket, head);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `https://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
  elsewhere = createHttpServer((request, response) => {
    heardElsewhere.push(`${request.method ?? ""} ${request.url ?? ""} ${request.headers.authorization ?? ""}`);
    response.end("{}");
  });
  await new Promise<void>((resolve) => elsewhere.listen(0, "127.0.0.1", resolve));
});
afterAll(async () => {
  wss.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await new Promise((resolve) => elsewhere.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe("an API server that lies in an exec's closing status", () => {
  const lies: [string, unknown][] = [
    ["null", null],
    ["a list", [1, 2]],
    ["a number", 0],
    ["causes that are not a list", { status: "Failure", details: { causes: "ExitCode" } }],
    ["a cause that is null", { status: "Failure", details: { causes: [null] } }],
    ["details that are a string", { status: "Failure", details: "x" }],
    ["a failure that claims exit code 0", failure("0")],
    ["a negative code", failure("-1")],
    ["a code past 255", failure("256")],
    ["a code in another notation", failure("1e2")],
    ["a code with spaces", failure(" 3")],
    ["a code that is words", failure("NaN")],
    ["a code that is a number, not text", failure(3)],
  ];
  it.each(lies)(
    "%s: the process lives on, and the exec ends as one not run (126), never as a success",
    async (_, status) => {
      const { code } = await execAgainst((ws) => {
        ws.send(statusFrame(status));
        ws.close();
      });
      expect(code).toBe(126);
    },
  );

  it("frames on channels that are not the exec's, empty ones and text ones are not the command's output", async () => {
    const { code, out, ended } = await execAgainst((ws) => {
      ws.send(Buffer.from([9, 65]));
      ws.send(Buffer.from([255, 0]));
      ws.send(Buffer.alloc(0));
      ws.send(Buffer.from([0, 66]));
      ws.send("\u0001text frame\n");
      ws.send(Buffer.concat([Buffer.from([1]), Buffer.from("out\n")]));
      ws.send(statusFrame(failure("4")));
    });
    expect(code).toBe(4);
    await ended;
    expect(Buffer.concat(out).toString()).toBe("text frame\nout\n");
  });

  it("a true code is read as it is", async () => {
    const { code } = await execAgainst((ws) => {
      ws.send(statusFrame(failure("42")));
    });
    expect(code).toBe(42);
  });

  it("after its status, what the server says is not the command's, and the exec ends though the server never closes", async () => {
    const { code, out, ended, socket } = await execAgainst((ws) => {
      ws.send(Buffer.concat([Buffer.from([1]), Buffer.from("before\n")]));
      ws.send(statusFrame({ status: "Success" }));
      ws.send(Buffer.concat([Buffer.from([1]), Buffer.from("after\n")]));
      // and never closes
    });
    expect(code).toBe(0);
    await ended;
    await new Promise((resolve) => socket.once("close", resolve));
    expect(Buffer.concat(out).toString()).toBe("before\n");
  });
});

describe("an API server that holds or fills the client's WebSocket", () => {
  it("an upgrade that is never answered is given up", async () => {
    onUpgrade = () => undefined; // takes the connection, says nothing
    await expect(
      openSocket(client(), "/api/v1/namespaces/ns/pods/p/exec", { command: ["x"] }, EXEC_PROTOCOLS),
    ).rejects.toThrow(/timed out|handshake/i);
  });

  it("a refusal whose body never ends is cut at its bound, and said with what came", async () => {
    let writing = true;
    onUpgrade = (_, socket) => {
      socket.write("HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n");
      const chunk = Buffer.from("refused ".repeat(4096));
      const more = () => {
        // Endless, as fast as the client takes it: until the client hangs up.
        while (writing && !socket.destroyed && socket.write(`${chunk.length.toString(16)}\r\n${chunk.toString()}\r\n`));
        if (writing && !socket.destroyed) socket.once("drain", more);
      };
      socket.on("error", () => undefined);
      socket.on("close", () => {
        writing = false;
      });
      more();
    };
    await expect(
      openSocket(client(), "/api/v1/namespaces/ns/pods/p/exec", { command: ["x"] }, EXEC_PROTOCOLS),
    ).rejects.toThrow(/Unexpected server response: 403 \(refused refused/);
  });

  it("a refusal that starts and never finishes is given up, and said with what came", async () => {
    onUpgrade = (_, socket) => {
      socket.on("error", () => undefined);
      socket.write("HTTP/1.1 401 Unauthorized\r\nContent-Length: 1000\r\n\r\nUnauthor");
    };
    await expect(
      openSocket(client(), "/api/v1/namespaces/ns/pods/p/exec", { command: ["x"] }, EXEC_PROTOCOLS),
    ).rejects.toThrow(/Unexpected server response: 401 \(Unauthor\)/);
  });

  it("a port-forward whose error channel never ends is cut off, with the refusal's words", async () => {
    onUpgrade = (request, socket, head) => {
      wss.handleUpgrade(request, socket, head, (ws) => {
        ws.send(Buffer.from([0, 80, 0]));
        ws.send(Buffer.from([1, 80, 0]));
        const flood = Buffer.concat([Buffer.from([1]), Buffer.from("x".repeat(1024))]);
        const more = () => {
          // Until the client hangs up.
          if (ws.readyState !== 1) return; // open
          ws.send(flood, more);
        };
        more();
      });
    };
    const http = client();
    const apis = async () => ({ http, namespace: "ns" }) as unknown as KubeApis;
    // The pod is read only to explain a refused upgrade, which this one is not.
    const notAsked = () => Promise.reject(new Error("the pod is not read"));
    const stream = await openPortForward(apis, notAsked, "sf-000000000000", 80);
    stream.resume();
    const error = await new Promise((resolve) => stream.once("error", resolve));
    expect(String(error)).toContain("the cluster could not forward to port 80 of sandbox pod sf-000000000000");
  });
});

describe("an API server that holds or fills a call", () => {
  it("an answer that drips a byte before each idle bound, and never ends, is given up at the whole bound", async () => {
    await expect(client({ maxBodyBytes: 1 << 20, idleMs: 500, wholeMs: 1000 }).json("GET", "/drip")).rejects.toThrow(
      /the API server's answer took more than 1 s/,
    );
  });

  it("a header of a megabyte is refused by the parser, and the process lives on", async () => {
    await expect(client().json("GET", "/huge-header")).rejects.toMatchObject({ code: "HPE_HEADER_OVERFLOW" });
    await expect(client().json("GET", "/ok")).resolves.toEqual({});
  });

  it("an upgrade answered with a header of a megabyte is refused", async () => {
    onUpgrade = (_, socket) => {
      socket.on("error", () => undefined);
      socket.end(`HTTP/1.1 101 Switching Protocols\r\nX-Filler: ${"a".repeat(1 << 20)}\r\n\r\n`);
    };
    await expect(
      openSocket(client(), "/api/v1/namespaces/ns/pods/p/exec", { command: ["x"] }, EXEC_PROTOCOLS),
    ).rejects.toThrow(/header|overflow/i);
  });
});

describe("an API server that redirects", () => {
  it.each(["/redirect/302", "/redirect/307"])(
    "%s is refused as an error, and the place it names hears nothing, token or not",
    async (path) => {
      const error = await client()
        .json("GET", path)
        .catch((e: unknown) => e);
      expect(String(error)).toContain("answered with a redirect, which sandfleet does not follow");
      expect(String(error)).not.toContain(TOKEN);
      expect(heardElsewhere).toEqual([]);
    },
  );

  it("a redirect of an exec's upgrade is refused, and the place it names hears nothing", async () => {
    onUpgrade = (_, socket) => {
      const target = `http://127.0.0.1:${String((elsewhere.address() as AddressInfo).port)}/exec`;
      socket.end(`HTTP/1.1 302 Found\r\nLocation: ${target}\r\nContent-Length: 0\r\n\r\n`);
    };
    await expect(
      openSocket(client(), "/api/v1/namespaces/ns/pods/p/exec", { command: ["x"] }, EXEC_PROTOCOLS),
    ).rejects.toThrow(/Unexpected server response: 302/);
    expect(heardElsewhere).toEqual([]);
  });
});
