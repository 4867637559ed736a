import { describe, expect, it } from "vitest";
import {
  dockerHostProblem,
  nonPublicAddress,
  nonPublicHost,
  registryProblem,
  webhookUrlProblem,
} from "../../provider/addresses.ts";
import {
  kubeconfigCredentialProblem,
  kubeconfigTextProblem,
  loadedUsersProblem,
} from "../../provider/engines/kubernetes/kubeconfig.ts";

describe("addresses inside a network", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback"],
    ["169.254.169.254", "link-local"],
    ["10.1.2.3", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.168.1.1", "private"],
    ["100.64.0.1", "carrier-grade NAT"],
    ["100.127.255.255", "carrier-grade NAT"],
    ["0.0.0.0", "unspecified"],
    ["0.1.2.3", "unspecified"],
    ["224.0.0.251", "multicast"],
    ["239.255.255.250", "multicast"],
    ["255.255.255.255", "broadcast"],
    ["240.0.0.1", "reserved"],
    ["198.18.0.1", "benchmarking"],
    ["192.0.0.8", "reserved"],
    ["::1", "loopback"],
    ["::", "unspecified"],
    ["0:0:0:0:0:0:0:1", "loopback"],
    ["fe80::1", "link-local"],
    ["febf::1", "link-local"],
    ["fe80::1%eth0", "zone"],
    ["fc00::1", "unique local"],
    ["fd12:3456::1", "unique local"],
    ["fec0::1", "site-local"],
    ["ff02::1", "multicast"],
    ["::ffff:127.0.0.1", "IPv4-mapped IPv6 form of 127.0.0.1, a loopback"],
    ["::ffff:7f00:1", "IPv4-mapped IPv6 form of 127.0.0.1, a loopback"],
    ["::ffff:a9fe:a9fe", "IPv4-mapped IPv6 form of 169.254.169.254, a link-local"],
    ["::ffff:8.8.8.8", "IPv4-mapped IPv6 form of 8.8.8.8;"],
    ["::ffff:0:a00:1", "IPv4-translated IPv6 form of 10.0.0.1, a private"],
    ["::127.0.0.1", "IPv4-compatible IPv6 form of 127.0.0.1"],
    ["64:ff9b::a9fe:a9fe", "NAT64 form of 169.254.169.254"],
    ["2002:c0a8:101::1", "6to4 form of 192.168.1.1, a private"],
    ["2001:0:4136:e378::1", "Teredo"],
    ["2001:db8::1", "documentation"],
    ["[::1]", "loopback"],
  ])("%s is %s", (address, words) => {
    expect(nonPublicAddress(address)).toContain(words);
  });

  it.each([
    "8.8.8.8",
    "1.1.1.1",
    "172.32.0.1",
    "172.15.255.255",
    "100.128.0.1",
    "169.255.0.1",
    "2001:4860:4860::8888",
    "2606:4700::1111",
  ])("%s is public", (address) => {
    expect(nonPublicAddress(address)).toBeUndefined();
  });

  it("knows localhost names whatever DNS says", () => {
    expect(nonPublicHost("localhost")).toContain("loopback");
    expect(nonPublicHost("LOCALHOST.")).toContain("loopback");
    expect(nonPublicHost("api.localhost")).toContain("loopback");
    expect(nonPublicHost("localhost.example.com")).toBeUndefined();
  });
});

describe("the WHATWG parser normalises numeric hosts before they are classified", () => {
  it.each([
    ["http://2130706433/", "127.0.0.1"],
    ["http://017700000001/", "127.0.0.1"],
    ["http://0x7f000001/", "127.0.0.1"],
    ["http://0x7f.0.0.1/", "127.0.0.1"],
    ["http://127.1/", "127.0.0.1"],
    ["http://0251.0376.0251.0376/", "169.254.169.254"],
    ["http://%31%32%37.0.0.1/", "127.0.0.1"],
    ["http://[::ffff:127.0.0.1]/", "[::ffff:7f00:1]"],
    ["http://①②⑦.0.0.1/", "127.0.0.1"],
  ])("%s is host %s, inside a network, and not as written", (url, host) => {
    expect(new URL(url).hostname).toBe(host);
    expect(nonPublicHost(new URL(url).hostname)).toBeDefined();
    expect(webhookUrlProblem(url)).toBeDefined();
    expect(webhookUrlProblem(url, true)).toBeDefined();
  });
});

describe("webhook URLs", () => {
  it.each([
    [
      "https://evil.example\\@hooks.example.com/x",
      "has a backslash, which the URL parser reads as '/': it goes to host evil.example",
    ],
    ["https://hooks.example.com\\x", "backslash"],
    ["https://user:pw@hooks.example.com/x", "must not carry credentials"],
    ["https://@hooks.example.com/x", "must not carry credentials"],
    ["https://hooks.example.com:0/x", "port 0 is not 1 to 65535"],
    ["https://hooks.example.com:00/x", "port 0"],
    ["https://hooks.example.com:65536/x", "port 65536 is not 1 to 65535"],
    ["https://hооks.example.com/x", "U+043E"],
    ["https://hooks.exampl\u0435.com/x", "look-alike"],
    ["https://hooks.example.com\u200b/x", "U+200B"],
    ["https://hooks.example.com/a b", "a space or a control character"],
    ["https://hooks.example.com/\ta", "a space or a control character"],
    ["https://HOOKS.example.com/x", 'is read as "https://hooks.example.com/x"'],
    ["https://hooks.example.com:443/x", 'is read as "https://hooks.example.com/x"'],
    ["https://hooks.example.com/a/../../x", 'is read as "https://hooks.example.com/x"'],
    ["ftp://hooks.example.com/x", "is not http or https"],
    ["javascript:alert(1)", "is not http or https"],
    ["not a url", "has U+0020"],
    [
      "http://127.0.0.1:2375/containers",
      "127.0.0.1 is a loopback address; a webhook to an address inside a network needs allowPrivate: true",
    ],
    ["http://169.254.169.254/latest/meta-data", "link-local"],
    ["http://[fd00::1]/", "unique local"],
    ["http://localhost:8080/", "loopback name"],
  ])("%s is refused", (url, words) => {
    expect(webhookUrlProblem(url)).toContain(words);
  });

  it("lets allowPrivate through only what is written as the parser reads it", () => {
    expect(webhookUrlProblem("http://127.0.0.1:2375/x", true)).toBeUndefined();
    expect(webhookUrlProblem("http://[::1]:8080/", true)).toBeUndefined();
    expect(webhookUrlProblem("http://2130706433/", true)).toContain("is read as");
  });

  it.each([
    "https://hooks.example.com/sandfleet",
    "https://hooks.example.com",
    "http://hooks.example.com:8080/a?b=c",
    "https://xn--hks-qdda.example.com/x",
  ])("%s is accepted", (url) => {
    expect(webhookUrlProblem(url)).toBeUndefined();
  });
});

describe("registries and Docker hosts", () => {
  it.each([
    ["..:5000", 'host ".." is not a host name'],
    ["registry.internal:99999", "port 99999 is not 1 to 65535"],
    ["registry.internal:0", "port 0 is not 1 to 65535"],
    ["-registry.internal", "is not a host name"],
    ["registry..internal", "is not a host name"],
    ["https://registry.internal", "must be a registry as host[:port][/path]"],
    ["registry.internal/Team", "must be a registry as host[:port][/path]"],
  ])("registry %s is refused", (registry, words) => {
    expect(registryProblem(registry)).toContain(words);
  });

  it.each(["registry.internal:5000", "ghcr.io/acme", "10.0.0.5:5000/team/x", "localhost:5000"])(
    "registry %s is accepted",
    (r) => {
      expect(registryProblem(r)).toBeUndefined();
    },
  );

  it.each([
    ["tcp://engine:99999", "port 99999"],
    ["tcp://me:pw@engine:2376", "credentials"],
    ["ssh://-oProxyCommand=touch@engine", "is not a user name"],
    ["tcp://engine:2375/x", "must be a Docker host URL"],
    ["tcp://eng\u0456ne:2375", "U+0456"],
    ["unix://relative.sock", "normalised absolute path"],
  ])("Docker host %s is refused", (host, words) => {
    expect(dockerHostProblem(host)).toContain(words);
  });
});

describe("kubeconfig credential plugins, however the file spells them", () => {
  const user = (body: string) => `apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n${body}`;
  it.each([
    [
      "exec",
      user("    exec: { command: sh, args: [-c, 'touch /tmp/x'], apiVersion: client.authentication.k8s.io/v1 }\n"),
    ],
    ["auth-provider", user("    auth-provider: { name: gcp, config: { cmd-path: /bin/sh } }\n")],
    ["token-file", user("    token-file: /home/ci/.kube/token\n")],
    ["a quoted key", user('    "exec": { command: sh }\n')],
    ["an escaped key", user('    "\\x65xec": { command: sh }\n')],
    ["a merge key", `plugin: &p { exec: { command: sh } }\n${user("    <<: *p\n")}`],
    ["a duplicate key", user("    token: a\n    token: b\n    exec: { command: sh }\n")],
    ["JSON", '{"users":[{"name":"u","user":{"exec":{"command":"sh"}}}]}'],
    ["a second document", `${user("    token: a\n")}---\n${user("    exec: { command: sh }\n")}`],
  ])("%s is refused", (_what, text) => {
    expect(kubeconfigTextProblem(text)).toContain("allowKubeconfigExec: true");
  });

  it("refuses a file that is no kubeconfig, before a loader's error could quote it", () => {
    expect(kubeconfigTextProblem("[default]\naws_secret_access_key = abc\n")).toBeDefined();
    expect(kubeconfigTextProblem("secret: abc\n")).toBe(
      "is not a kubeconfig (a map with clusters, contexts and users)",
    );
  });

  it("refuses a device that would never end, before reading it", () => {
    expect(kubeconfigCredentialProblem("/dev/zero")).toBe("is not a regular file");
  });

  it("accepts a token or client certificate", () => {
    expect(kubeconfigTextProblem(user("    token: abc\n    client-certificate-data: Zm9v\n"))).toBeUndefined();
  });

  it.each([
    ["an alias key", `k: &k token-file\n${user("    *k : /tmp/secret\n")}`, "line 7 column 5 that is an alias (*k)"],
    ["a list key", user("    [token-file]: /tmp/secret\n"), "that is a list or a map"],
    ["an explicit list key", user("    ? - exec\n    : { command: sh }\n"), "that is a list or a map"],
    ["an anchored key", user("    &a token: t\n"), "that carries an anchor (&a)"],
    ["a key that is not text", user("    1: t\n"), "that is not a string (1)"],
  ])("refuses %s, which another parser reads differently", (_what, text, words) => {
    expect(kubeconfigTextProblem(text)).toContain(words);
  });

  it("refuses a client key or certificate outside the kubeconfig's folder, and accepts one inside", () => {
    const users = (file: string) => user(`    client-key: ${file}\n`);
    expect(kubeconfigTextProblem(users("/etc/kubernetes/pki/admin.key"), "/work/kube")).toContain(
      "outside the kubeconfig's folder",
    );
    expect(kubeconfigTextProblem(users("../admin.key"), "/work/kube")).toContain("outside the kubeconfig's folder");
    expect(kubeconfigTextProblem(users("certs/admin.key"), "/work/kube")).toBeUndefined();
    // A number would be read as an open file descriptor of the process.
    expect(kubeconfigTextProblem(users("3"), "/work/kube")).toContain("which is not a path");
  });

  it("after loading, refuses a user whose token the loader read from a file", () => {
    const document = { users: [{ name: "u", user: { token: "written" } }] };
    expect(loadedUsersProblem([{ name: "u", token: "written" }], document)).toBeUndefined();
    expect(loadedUsersProblem([{ name: "u", token: "from a file" }], document)).toContain("token-file");
    expect(loadedUsersProblem([{ name: "u", exec: {} }], document)).toContain("exec credential plugin");
  });
});
