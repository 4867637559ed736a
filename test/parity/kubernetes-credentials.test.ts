// Every form of kubeconfig user that kubectl accepts signs sandfleet in to
// the cluster as that user: a written token, kubectl's tokenFile (which the
// client library ignores by itself, sending such requests anonymously),
// client certificate and key as files and as data, and an exec plugin. The
// API server says who it heard (a SelfSubjectReview), and the engine works.
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { V1SelfSubjectReview } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandfleet } from "../../provider/client/sandfleet.ts";
import { connectEngine, type KubernetesEngineOptions } from "../../provider/engines/connect.ts";
import { kubeApis } from "../../provider/engines/kubernetes/api.ts";
import { cleanupBackend } from "../support/backends.ts";
import { TEST_CLUSTER } from "../support/cluster.ts";
import { uniqueApp } from "../support/engine.ts";
import { kubectl } from "../support/kubectl.ts";
import { sandfleetRole } from "../support/sandfleet-role.ts";

const admin = readFileSync(TEST_CLUSTER.kubeconfig ?? "", "utf8");
const server = /server: (\S+)/.exec(admin)?.[1] ?? "";
const ca = /certificate-authority: (\S+)/.exec(admin)?.[1] ?? "";
const adminCert = /client-certificate: (\S+)/.exec(admin)?.[1] ?? "";
const adminKey = /client-key: (\S+)/.exec(admin)?.[1] ?? "";

/** Who the API server says the caller is. */
async function whoami(target: KubernetesEngineOptions): Promise<string> {
  const { http } = await kubeApis(target)();
  const review = await http.json<V1SelfSubjectReview>("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {
    body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
  });
  return review.status?.userInfo?.username ?? "";
}

describe("a kubeconfig user in each form kubectl accepts", () => {
  const namespace = uniqueApp("sandfleet-cred");
  const app = uniqueApp("cred");
  const dir = mkdtempSync(join(tmpdir(), "sandfleet-credentials-"));
  let token = "";
  let account = "";
  const kubeconfig = (name: string, user: string, ns = namespace) => {
    const file = join(dir, `${name}.kubeconfig`);
    writeFileSync(
      file,
      [
        "apiVersion: v1",
        "kind: Config",
        `clusters: [{ name: c, cluster: { server: "${server}", certificate-authority: "${ca}" } }]`,
        `contexts: [{ name: x, context: { cluster: c, user: u, namespace: ${ns} } }]`,
        "current-context: x",
        "users:",
        "- name: u",
        "  user:",
        ...user.split("\n").map((line) => `    ${line}`),
      ].join("\n"),
    );
    return file;
  };
  const target = (file: string, allowExecCredentials = false): KubernetesEngineOptions => ({
    kubeconfig: file,
    registry: TEST_CLUSTER.registry ?? "",
    ...(allowExecCredentials ? { allowExecCredentials } : {}),
  });

  beforeAll(async () => {
    const role = await sandfleetRole(namespace);
    account = role.user;
    token = /token: "([^"]+)"/.exec(readFileSync(role.options.kubeconfig, "utf8"))?.[1] ?? "";
    expect(token).not.toBe("");
  });
  afterAll(async () => {
    await cleanupBackend(connectEngine({ kubernetes: { ...TEST_CLUSTER, namespace } }), app);
    await kubectl(["delete", "namespace", namespace, "--wait=false"]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("a written token", async () => {
    const options = target(kubeconfig("token", `token: ${token}`));
    expect(await whoami(options)).toBe(account);
    await connectEngine({ kubernetes: options }).ping();
  });

  it("kubectl's tokenFile, re-read for every request (a rotated token is used; a bad one is refused), on calls and on exec", async () => {
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, `${token}\n`);
    // A written token that is wrong: the file's wins, as it does for kubectl.
    const options = target(kubeconfig("token-file", `tokenFile: ${tokenFile}\ntoken: not-the-token`), true);
    expect(await whoami(options)).toBe(account);
    const engine = connectEngine({ kubernetes: options });
    await engine.ping();
    await using sandbox = await new Sandfleet({ kubernetes: options }).sandboxes.create({
      app,
      image: "sandfleet/busybox",
      user: "1000:1000",
      memoryMiB: 32,
    });
    expect((await sandbox.run(["echo", "through the token file"])).stdout).toBe("through the token file\n");
    writeFileSync(tokenFile, "rotated-to-a-token-the-server-does-not-know\n");
    await expect(engine.ping()).rejects.toThrow(/Unauthorized|401/);
    writeFileSync(tokenFile, token);
    await engine.ping();
  });

  it("kubectl's tokenFile in the default kubeconfig ($KUBECONFIG), relative to its folder", async () => {
    writeFileSync(join(dir, "relative-token"), token);
    const file = kubeconfig("default-token-file", "tokenFile: relative-token");
    const before = process.env.KUBECONFIG;
    process.env.KUBECONFIG = file;
    try {
      const options = { registry: TEST_CLUSTER.registry ?? "" };
      expect(await whoami(options)).toBe(account);
      await connectEngine({ kubernetes: options }).ping();
    } finally {
      if (before === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = before;
    }
  });

  it("client certificate and key files (in the kubeconfig's folder), and the same as data", async () => {
    copyFileSync(adminCert, join(dir, "client.crt"));
    copyFileSync(adminKey, join(dir, "client.key"));
    chmodSync(join(dir, "client.key"), 0o600);
    const files = target(kubeconfig("cert-files", "client-certificate: client.crt\nclient-key: client.key", "default"));
    const adminName = await whoami(TEST_CLUSTER);
    expect(adminName).not.toBe("");
    expect(await whoami(files)).toBe(adminName);
    const data = target(
      kubeconfig(
        "cert-data",
        `client-certificate-data: ${readFileSync(adminCert).toString("base64")}\nclient-key-data: ${readFileSync(adminKey).toString("base64")}`,
        "default",
      ),
    );
    expect(await whoami(data)).toBe(adminName);
    await connectEngine({ kubernetes: data }).ping();
  });

  it("an exec credential plugin, when the policy allows it", async () => {
    const plugin = join(dir, "credential-plugin");
    writeFileSync(
      plugin,
      `#!/bin/sh\nprintf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}' "$(cat ${join(dir, "plugin-token")})"\n`,
    );
    chmodSync(plugin, 0o755);
    writeFileSync(join(dir, "plugin-token"), token);
    const file = kubeconfig(
      "exec",
      `exec:\n  apiVersion: client.authentication.k8s.io/v1\n  command: ${plugin}\n  interactiveMode: Never`,
    );
    expect(await whoami(target(file, true))).toBe(account);
    await connectEngine({ kubernetes: target(file, true) }).ping();
    // Without the policy's word, the engine refuses to run it.
    await expect(connectEngine({ kubernetes: target(file) }).ping()).rejects.toThrow(/exec credential plugin/);
  });
});
