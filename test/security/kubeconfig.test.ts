// The author of a pull request adds a kubeconfig beside sandfleet.yaml and
// names it in `kubernetes.kubeconfig`. Its user's `exec` credential plugin is
// a command line: loading it on the deploy machine would run whatever the pull
// request wrote, with the deploy job's credentials. validate, preview and up
// must all refuse it (unless the policy allows plugins), and it must never run.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectEngine } from "../../provider/engines/connect.ts";
import { sandfleet } from "../support/cli.ts";
import { cleanupApp, uniqueApp } from "../support/engine.ts";
import { PulumiStack } from "../support/pulumi.ts";
import { makeTestCa, type TestCa } from "../support/test-ca.ts";

const root = new URL("../../", import.meta.url).pathname;

/** A kubeconfig whose user runs `touch <marker>` (and prints a token) when it authenticates. */
function pluginKubeconfig(marker: string, spelling: "exec" | "merge" | "auth-provider"): string {
  const credential = JSON.stringify({
    apiVersion: "client.authentication.k8s.io/v1",
    kind: "ExecCredential",
    status: { token: "t" },
  });
  const script = JSON.stringify(`touch ${marker}; echo '${credential}'`);
  const exec = `{ apiVersion: client.authentication.k8s.io/v1, command: /bin/sh, args: ["-c", ${script}], interactiveMode: Never }`;
  const user = {
    exec: `    exec: ${exec}\n`,
    merge: `    <<: { exec: ${exec} }\n`,
    "auth-provider": `    auth-provider: { name: gcp, config: { cmd-path: /bin/sh, cmd-args: ${JSON.stringify(`-c 'touch ${marker}'`)} } }\n`,
  }[spelling];
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: c",
    "  cluster: { server: https://127.0.0.1:1, insecure-skip-tls-verify: true }",
    "contexts:",
    "- name: c",
    "  context: { cluster: c, user: u, namespace: default }",
    "current-context: c",
    "users:",
    "- name: u",
    "  user:",
    user,
  ].join("\n");
}

describe("a kubeconfig from a pull request that runs a credential plugin", () => {
  const dir = mkdtempSync(join(tmpdir(), "sandfleet-kubeconfig-"));
  const marker = join(dir, "plugin-ran");
  const kubeconfig = join(dir, "cluster.yaml");
  const specFile = join(dir, "sandfleet.yaml");
  const policyFile = join(dir, "sandfleet-policy.yaml");
  const app = uniqueApp("seckube");
  const stack = new PulumiStack(root, `kubeconfig-${randomBytes(4).toString("hex")}`);
  const pulumiEnv = { PULUMI_BACKEND_URL: `file://${stack.backendDir}`, PULUMI_CONFIG_PASSPHRASE: "" };

  const spec = (path: string) => `app: ${app}\nkubernetes:\n  kubeconfig: ${path}\n  registry: 127.0.0.1:5000\n`;

  beforeAll(async () => {
    writeFileSync(kubeconfig, pluginKubeconfig(marker, "exec"));
    writeFileSync(specFile, spec(kubeconfig));
    writeFileSync(policyFile, "allowKubeconfigExec: true\nrules: []\n");
    await stack.init({ "sandfleet:file": specFile, "sandfleet:app": app });
  });
  afterAll(async () => {
    await stack.dispose();
    await cleanupApp(app);
    rmSync(dir, { recursive: true, force: true });
  });

  it("`sandfleet validate` refuses it at its line, and the plugin never runs", async () => {
    for (const named of [kubeconfig, "./cluster.yaml"]) {
      writeFileSync(specFile, spec(named));
      const result = await sandfleet(["validate", specFile]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(
        `3:15  kubernetes.kubeconfig: ${named} runs an exec credential plugin (a command): it would run on the machine that deploys; a policy with allowKubeconfigExec: true allows it`,
      );
    }
    writeFileSync(specFile, spec(kubeconfig));
    expect(existsSync(marker)).toBe(false);
  });

  it.each(["merge", "auth-provider"] as const)("`sandfleet validate` refuses it written with %s", async (spelling) => {
    const other = join(dir, `${spelling}.yaml`);
    writeFileSync(other, pluginKubeconfig(marker, spelling));
    const file = join(dir, `${spelling}-sandfleet.yaml`);
    writeFileSync(file, spec(other));
    const result = await sandfleet(["validate", file]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("kubernetes.kubeconfig:");
    expect(result.stderr).toContain("allowKubeconfigExec: true");
  });

  it.each(["preview", "up"])(
    "`sandfleet %s` refuses it before anything loads it, and the plugin never runs",
    async (verb) => {
      const result = await sandfleet([verb, "-C", root, "--stack", stack.stack], { env: pulumiEnv });
      const output = result.stdout + result.stderr;
      expect(result.code).not.toBe(0);
      expect(output).toContain("kubernetes.kubeconfig:");
      expect(output).toContain("runs an exec credential plugin (a command)");
      expect(existsSync(marker)).toBe(false);
    },
  );

  it("the engine refuses it too, when the runtime API is given it directly", async () => {
    const engine = connectEngine({ kubernetes: { kubeconfig, registry: "127.0.0.1:5000" } });
    await expect(engine.ping()).rejects.toThrow(/runs an exec credential plugin/);
    expect(existsSync(marker)).toBe(false);
  });

  it("a policy that allows plugins lets validate pass", async () => {
    const result = await sandfleet(["validate", "--policy", policyFile, specFile]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(existsSync(marker)).toBe(false);
  });

  // Last: it lets the plugin run. It shows the kubeconfig is live, so the tests above would see a run.
  it("with a policy that allows plugins, `sandfleet up` loads it and the plugin runs", async () => {
    await stack.run(["config", "set", "sandfleet:policy", policyFile]);
    const result = await sandfleet(["up", "-C", root, "--stack", stack.stack], { env: pulumiEnv });
    // The cluster at 127.0.0.1:1 is not there; the plugin ran before that was found.
    expect(result.code).not.toBe(0);
    expect(existsSync(marker)).toBe(true);
  });
});

// The same author hides the key from the check instead: an alias (`*k`) whose
// anchor is the string `token-file`, or a key that is a list, reads as
// `token-file` to the loader's YAML parser. The token file of the deploy
// machine would then be read and sent to the pull request's server.
describe("a kubeconfig from a pull request that hides a key from the check", () => {
  const dir = mkdtempSync(join(tmpdir(), "sandfleet-kubealias-"));
  const secret = join(dir, "secret.txt");
  const secretText = `deploy-secret-${randomBytes(8).toString("hex")}`;
  const seen: string[] = [];
  const server = createServer((request, response) => {
    seen.push(`${request.method ?? ""} ${request.url ?? ""} ${request.headers.authorization ?? ""}`);
    response.writeHead(200, { "content-type": "application/json" });
    response.end("{}");
  });
  let url = "";

  const kubeconfigWith = (user: string, prelude = "") =>
    [
      "apiVersion: v1",
      "kind: Config",
      `clusters: [{name: c, cluster: {server: "${url}", insecure-skip-tls-verify: true}}]`,
      "contexts: [{name: x, context: {cluster: c, user: u, namespace: default}}]",
      "current-context: x",
      prelude,
      "users:",
      "- name: u",
      "  user:",
      user,
    ].join("\n");
  const plugin = `{apiVersion: client.authentication.k8s.io/v1, command: /bin/sh, args: [-c, "touch ${join(dir, "ran")}"]}`;
  const hidden: [string, string, string][] = [
    ["an alias key naming token-file", "k: &k token-file", `    *k : ${secret}`],
    ["an alias key naming exec", "k: &k exec", `    *k : ${plugin}`],
    ["an alias key naming auth-provider", "k: &k auth-provider", `    *k : {name: gcp, config: {cmd-path: /bin/sh}}`],
    ["a list key", "", `    [token-file]: ${secret}`],
    ["an explicit list key", "", `    ? - token-file\n    : ${secret}`],
    ["an anchored key", "", `    &a token: t\n    x: y`],
    ["a map key", "", `    ? {token-file: x}\n    : ${secret}`],
    ["a number key", "", `    1: ${secret}`],
  ];

  beforeAll(async () => {
    writeFileSync(secret, secretText);
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    url = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
  });
  afterAll(async () => {
    await new Promise((done) => server.close(done));
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(hidden)("`sandfleet validate` refuses %s at its line", async (what, prelude, user) => {
    const name = `${what.replaceAll(" ", "-")}.yaml`;
    writeFileSync(join(dir, name), kubeconfigWith(user, prelude));
    const specFile = join(dir, `${what.replaceAll(" ", "-")}-sandfleet.yaml`);
    writeFileSync(specFile, `app: alias\nkubernetes: {kubeconfig: ${name}, registry: registry.internal:5000}\n`);
    const result = await sandfleet(["validate", specFile]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("kubernetes.kubeconfig:");
    expect(result.stderr).toMatch(/that (is an alias|is a list or a map|carries an anchor|is not a string)/);
  });

  it.each(hidden)("the engine refuses %s, and its server hears nothing", async (what, prelude, user) => {
    const file = join(dir, `engine-${what.replaceAll(" ", "-")}.yaml`);
    writeFileSync(file, kubeconfigWith(user, prelude));
    const engine = connectEngine({ kubernetes: { kubeconfig: file, registry: "127.0.0.1:5000" } });
    await expect(engine.ping()).rejects.toThrow(/must be plain strings/);
    expect(seen.join("\n")).not.toContain(secretText);
    expect(existsSync(join(dir, "ran"))).toBe(false);
  });

  it("a client key outside the kubeconfig's folder is refused, by validate and the engine", async () => {
    const file = join(dir, "identity.yaml");
    writeFileSync(file, kubeconfigWith(`    client-certificate: /etc/hostname\n    client-key: ../../${secret}`));
    const specFile = join(dir, "identity-sandfleet.yaml");
    writeFileSync(specFile, `app: alias\nkubernetes: {kubeconfig: identity.yaml, registry: registry.internal:5000}\n`);
    const result = await sandfleet(["validate", specFile]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("a file outside the kubeconfig's folder");
    const engine = connectEngine({ kubernetes: { kubeconfig: file, registry: "127.0.0.1:5000" } });
    await expect(engine.ping()).rejects.toThrow(/outside the kubeconfig's folder/);
  });

  // kubectl's own spelling, which the engine now reads (for trusted kubeconfigs): a named one from a
  // pull request would have the deploy machine's token file sent to the pull request's server.
  it.each([
    ["tokenFile", `    tokenFile: ${secret}`],
    ["a quoted tokenFile", `    "tokenFile": ${secret}`],
    ["an escaped tokenFile", `    "token\\u0046ile": ${secret}`],
    ["tokenFile beside a written token", `    token: t\n    tokenFile: ${secret}`],
  ])(
    "the engine refuses kubectl's %s in a named kubeconfig, and its server hears nothing of the file",
    async (what, user) => {
      const file = join(dir, `engine-${what.replaceAll(" ", "-")}.yaml`);
      writeFileSync(file, kubeconfigWith(user));
      const before = seen.length;
      const engine = connectEngine({ kubernetes: { kubeconfig: file, registry: "127.0.0.1:5000" } });
      await expect(engine.ping()).rejects.toThrow(/reads a token-file of this machine/);
      expect(seen.slice(before)).toEqual([]);
      expect(seen.join("\n")).not.toContain(secretText);
    },
  );

  // The server is live: a kubeconfig with its token written in it reaches it, and the token arrives.
  it("a kubeconfig with a written token reaches the server, which hears that token", async () => {
    const file = join(dir, "plain.yaml");
    writeFileSync(file, kubeconfigWith("    token: written-token"));
    const engine = connectEngine({ kubernetes: { kubeconfig: file, registry: "127.0.0.1:5000" } });
    await engine.ping().catch(() => undefined);
    expect(seen.join("\n")).toContain("Bearer written-token");
    expect(seen.join("\n")).not.toContain(secretText);
  });
});

// The same author names, from the kubeconfig, a file that never ends (a
// device, a pipe) where the engine's client reads it whole, or a cluster the
// engine cannot reach as written (a proxy-url): validate says what the engine
// would say, in its words, and the engine reads nothing of the file.
describe("a kubeconfig from a pull request that names a file without end, or a proxy", () => {
  const dir = mkdtempSync(join(tmpdir(), "sandfleet-kubefiles-"));
  const fifo = join(dir, "ca.pipe");

  const kubeconfigWith = (cluster: string, user = "token: t") =>
    [
      "apiVersion: v1",
      "kind: Config",
      `clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", ${cluster}}}]`,
      "contexts: [{name: x, context: {cluster: c, user: u, namespace: default}}]",
      "current-context: x",
      `users: [{name: u, user: {${user}}}]`,
    ].join("\n");

  beforeAll(() => {
    execFileSync("mkfifo", [fifo]);
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const refusals: [string, string, string][] = [
    ["certificate-authority /dev/zero", "certificate-authority: /dev/zero", "which is not a regular file"],
    ["certificate-authority /dev/stdin", "certificate-authority: /dev/stdin", "which is not a regular file"],
    ["certificate-authority a pipe in its folder", "certificate-authority: ca.pipe", "which is not a regular file"],
    ["certificate-authority a folder", "certificate-authority: /etc", "which is not a regular file"],
    ["a proxy-url", "proxy-url: http://127.0.0.1:3128", "names a proxy-url, which sandfleet does not use"],
    ["a server that is not an address", 'server: "127.0.0.1:1"', "it must be an https:// (or http://) address"],
  ];

  it.each(refusals)(
    "`sandfleet validate` and the engine refuse %s with the same words, and the engine reads nothing of it",
    async (what, cluster, words) => {
      const name = `${what.replaceAll(/[^a-z]+/g, "-")}.yaml`;
      const file = join(dir, name);
      // A later `server:` in the same flow map would be a duplicate key: the one written here replaces the default.
      writeFileSync(
        file,
        cluster.startsWith("server:")
          ? kubeconfigWith("").replace('server: "https://127.0.0.1:1", ', cluster + ", ")
          : kubeconfigWith(cluster),
      );
      const specFile = join(dir, `${name}-sandfleet.yaml`);
      writeFileSync(specFile, `app: files\nkubernetes: {kubeconfig: ${name}, registry: registry.internal:5000}\n`);
      const result = await sandfleet(["validate", specFile]);
      expect(result.code).not.toBe(0);
      const said = /kubernetes\.kubeconfig: \S+ (.*)/.exec(result.stderr)?.[1];
      expect(said).toContain(words);
      const engine = connectEngine({ kubernetes: { kubeconfig: file, registry: "127.0.0.1:5000" } });
      // The engine's words are validate's, after the file's name.
      await expect(engine.ping()).rejects.toThrow(said ?? words);
    },
  );
});

// sandfleet's own client checks the API server's certificate: a server that
// is not the cluster's (another certificate authority's, or a name the
// certificate does not hold) hears nothing, neither a call nor an exec's
// WebSocket, and no credential is ever in what a refusal says.
describe("a server that is not the cluster the kubeconfig names", () => {
  const dir = mkdtempSync(join(tmpdir(), "sandfleet-kubetls-"));
  const token = `deploy-token-${randomBytes(8).toString("hex")}`;
  const heard: string[] = [];
  let trusted: TestCa;
  let impostor: TestCa;
  let impostorUrl = "";
  let trustedUrl = "";
  const servers: HttpsServer[] = [];

  /** An HTTPS server of `ca`'s that notes every request and upgrade, and refuses each with a 401 Status. */
  const serve = async (ca: TestCa): Promise<string> => {
    const server = createHttpsServer({ cert: ca.serverCert, key: ca.serverKey });
    server.on("request", (request: IncomingMessage, response: ServerResponse) => {
      heard.push(`${request.method ?? ""} ${request.url ?? ""} ${request.headers.authorization ?? ""}`);
      response.writeHead(401, { "content-type": "application/json" });
      response.end(JSON.stringify({ kind: "Status", status: "Failure", message: "Unauthorized", code: 401 }));
    });
    server.on("upgrade", (request: IncomingMessage, socket: Duplex) => {
      heard.push(`UPGRADE ${request.url ?? ""} ${request.headers.authorization ?? ""}`);
      socket.destroy();
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    servers.push(server);
    return `https://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
  };
  const kubeconfig = (name: string, server: string, cluster: string) => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(
      file,
      [
        "apiVersion: v1",
        "kind: Config",
        `clusters: [{name: c, cluster: {server: "${server}", ${cluster}}}]`,
        "contexts: [{name: x, context: {cluster: c, user: u, namespace: default}}]",
        "current-context: x",
        `users: [{name: u, user: {token: ${token}}}]`,
      ].join("\n"),
    );
    return file;
  };
  const refusedUnheard = async (file: string) => {
    const engine = connectEngine({ kubernetes: { kubeconfig: file, registry: "127.0.0.1:5000" } });
    const before = heard.length;
    const call = await engine.ping().then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    const exec = await engine.exec.start("sf-0123456789ab", { argv: ["true"] }).then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    expect(call?.message).toMatch(/certificate|altnames|self-signed|issuer/i);
    expect(exec).toBeInstanceOf(Error);
    expect(heard.slice(before)).toEqual([]);
    for (const error of [call, exec]) expect(String(error?.message)).not.toContain(token);
  };

  beforeAll(async () => {
    mkdirSync(join(dir, "trusted"));
    mkdirSync(join(dir, "impostor"));
    trusted = makeTestCa(join(dir, "trusted"));
    impostor = makeTestCa(join(dir, "impostor"));
    impostorUrl = await serve(impostor);
    trustedUrl = await serve(trusted);
  });
  afterAll(async () => {
    for (const server of servers) await new Promise((done) => server.close(done));
    rmSync(dir, { recursive: true, force: true });
  });

  it("a server whose certificate another authority signed hears neither a call nor an exec", async () => {
    await refusedUnheard(kubeconfig("impostor", impostorUrl, `certificate-authority: ${trusted.files.ca}`));
  });

  it("without a certificate-authority, the system's are the only ones trusted", async () => {
    await refusedUnheard(kubeconfig("no-ca", trustedUrl, "tls-server-name: api.test"));
  });

  it("a tls-server-name the certificate does not hold is refused", async () => {
    await refusedUnheard(
      kubeconfig("wrong-name", trustedUrl, `certificate-authority: ${trusted.files.ca}, tls-server-name: other.test`),
    );
  });

  it("the right server hears the token, and its refusal says nothing of it", async () => {
    const file = kubeconfig("right", trustedUrl, `certificate-authority: ${trusted.files.ca}`);
    const engine = connectEngine({ kubernetes: { kubeconfig: file, registry: "127.0.0.1:5000" } });
    const before = heard.length;
    const error = await engine.ping().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(heard.slice(before).join("\n")).toContain(`Bearer ${token}`);
    expect(error?.message).toContain("Unauthorized");
    expect(error?.message).not.toContain(token);
  });
});
