// A certificate authority made for one test, with openssl: a server
// certificate for 127.0.0.1 and a client certificate, both signed by it.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface TestCa {
  /** The PEM texts. */
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** The CA's and the client's files, in the folder given. */
  files: { ca: string; clientCert: string; clientKey: string };
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

export function makeTestCa(dir: string, clientName = "test-user"): TestCa {
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
  openssl(
    "req",
    "-x509",
    ...EC_KEY,
    "-days",
    "1",
    "-subj",
    "/CN=test-ca",
    "-keyout",
    at("ca.key"),
    "-out",
    at("ca.crt"),
  );
  const sign = (name: string, subject: string, extensions: string) => {
    writeFileSync(at(`${name}.ext`), extensions);
    openssl("req", "-new", ...EC_KEY, "-subj", subject, "-keyout", at(`${name}.key`), "-out", at(`${name}.csr`));
    openssl(
      "x509",
      "-req",
      "-in",
      at(`${name}.csr`),
      "-CA",
      at("ca.crt"),
      "-CAkey",
      at("ca.key"),
      "-CAcreateserial",
      "-days",
      "1",
      "-extfile",
      at(`${name}.ext`),
      "-out",
      at(`${name}.crt`),
    );
  };
  sign("server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1,DNS:api.test\nextendedKeyUsage=serverAuth\n");
  sign("client", `/CN=${clientName}`, "extendedKeyUsage=clientAuth\n");
  const read = (name: string) => readFileSync(at(name), "utf8");
  return {
    ca: read("ca.crt"),
    serverCert: read("server.crt"),
    serverKey: read("server.key"),
    clientCert: read("client.crt"),
    clientKey: read("client.key"),
    files: { ca: at("ca.crt"), clientCert: at("client.crt"), clientKey: at("client.key") },
  };
}

/**
 * Writes `file`, a kubeconfig whose one context "x" (namespace "ns") reaches `server` as the users
 * named "u" (one, or more written twice), trusting the test CA's certificate.
 */
export function writeTestKubeconfig(
  file: string,
  server: string,
  caFile: string,
  users: readonly Record<string, unknown>[],
  cluster: Record<string, unknown> = {},
): string {
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "c", cluster: { server, "certificate-authority": caFile, ...cluster } }],
      contexts: [{ name: "x", context: { cluster: "c", user: "u", namespace: "ns" } }],
      "current-context": "x",
      users: users.map((user) => ({ name: "u", user })),
    }),
  );
  return file;
}
