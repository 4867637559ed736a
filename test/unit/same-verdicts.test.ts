import { describe, expect, it } from "vitest";
import { imageParamsProblems } from "../../provider/runtime/images/image-recipe.ts";
import { poolParamsProblems } from "../../provider/runtime/pools/pool.ts";
import { sandboxParamsProblems } from "../../provider/runtime/sandboxes/sandbox-params.ts";
import { webhookProblems } from "../../provider/runtime/observability/webhooks.ts";
import { webhookUrlProblem } from "../../provider/addresses.ts";
import { loadSpec } from "../../provider/spec/load.ts";

const hostile = new URL("./spec-corpus/hostile", import.meta.url).pathname;

/** The one problem a sandfleet.yaml gets, as "path: reason". */
function yamlVerdict(body: string): string {
  const result = loadSpec(`app: demo\n${body}`, "sandfleet.yaml", hostile);
  expect(result.issues).toHaveLength(1);
  return `${result.issues[0]?.path ?? ""}: ${result.issues[0]?.reason ?? ""}`;
}

function apiVerdict(problems: { property: string; reason: string }[]): { property: string; reason: string } {
  expect(problems).toHaveLength(1);
  return problems[0] ?? { property: "", reason: "" };
}

const sandbox = (params: Record<string, unknown>) =>
  apiVerdict(sandboxParamsProblems({ app: "demo", image: "sandfleet/busybox", ...params }));
const image = (params: Record<string, unknown>) =>
  apiVerdict(imageParamsProblems({ app: "demo", name: "tools", sourceDir: hostile, ...params }));

/**
 * The same mistake, made in sandfleet.yaml and through the TypeScript API:
 * the same rule refuses both, in the same words (the YAML message quotes the
 * value first), each at its own name for the property.
 */
const CASES: [what: string, yaml: string, api: () => { property: string; reason: string }, apiProperty: string][] = [
  [
    "a newline in a user that becomes a Dockerfile line",
    'images:\n  tools:\n    base: sandfleet/busybox\n    steps:\n      - user: "root\\nRUN echo pwned"\n',
    () => image({ base: "sandfleet/busybox", steps: [{ user: "root\nRUN echo pwned" }] }),
    "steps[0].user",
  ],
  [
    "a carriage return in a raw instruction",
    'images:\n  tools:\n    base: sandfleet/busybox\n    steps:\n      - dockerfile: "LABEL a=b\\rRUN x"\n',
    () => image({ base: "sandfleet/busybox", steps: [{ dockerfile: "LABEL a=b\rRUN x" }] }),
    "steps[0].dockerfile",
  ],
  [
    "a newline in a base image",
    'images:\n  tools:\n    base: "sandfleet/busybox\\nRUN x"\n',
    () => image({ base: "sandfleet/busybox\nRUN x" }),
    "base",
  ],
  [
    "a copy source that leads outside through a symlink",
    "images:\n  tools:\n    base: sandfleet/busybox\n    steps:\n      - copy: { src: link-to-etc, dest: /opt }\n",
    () => image({ base: "sandfleet/busybox", steps: [{ copy: { src: "link-to-etc", dest: "/opt" } }] }),
    "steps[0].copy.src",
  ],
  [
    "the uid reserved for the host's connection to the supervisor, spelled with a sign and a zero",
    'sandboxes:\n  web:\n    image: sandfleet/busybox\n    user: "+02000000000:0"\n',
    () => sandbox({ user: "+02000000000:0" }),
    "user",
  ],
  [
    "a NUL in an env value",
    'sandboxes:\n  web:\n    image: sandfleet/busybox\n    env: { A: "a\\0b" }\n',
    () => sandbox({ env: { A: "a\0b" } }),
    "env.A",
  ],
  [
    "a NUL in a command",
    'sandboxes:\n  web:\n    image: sandfleet/busybox\n    command: ["sh", "a\\0b"]\n',
    () => sandbox({ command: ["sh", "a\0b"] }),
    "command[1]",
  ],
  [
    "a control character in workdir",
    'sandboxes:\n  web:\n    image: sandfleet/busybox\n    workdir: "/tmp\\tx"\n',
    () => sandbox({ workdir: "/tmp\tx" }),
    "workdir",
  ],
  [
    "a newline in a user",
    'sandboxes:\n  web:\n    image: sandfleet/busybox\n    user: "a\\nb"\n',
    () => sandbox({ user: "a\nb" }),
    "user",
  ],
  [
    "a tag value on two lines",
    'sandboxes:\n  web:\n    image: sandfleet/busybox\n    tags: { team: "a\\nb" }\n',
    () => sandbox({ tags: { team: "a\nb" } }),
    "tags.team",
  ],
  [
    "an env value over 64 KiB",
    `sandboxes:\n  web:\n    image: sandfleet/busybox\n    env: { A: ${"x".repeat(70_000)} }\n`,
    () => sandbox({ env: { A: "x".repeat(70_000) } }),
    "env.A",
  ],
  [
    "a command of 1025 items",
    `sandboxes:\n  web:\n    image: sandfleet/busybox\n    command: [${Array(1025).fill("x").join(",")}]\n`,
    () => sandbox({ command: Array<string>(1025).fill("x") }),
    "command",
  ],
  [
    "a raw FROM in mixed case",
    "images:\n  tools:\n    base: sandfleet/busybox\n    steps:\n      - dockerfile: From other/image\n",
    () => image({ base: "sandfleet/busybox", steps: [{ dockerfile: "From other/image" }] }),
    "steps[0].dockerfile",
  ],
  [
    "a raw instruction that ends in \\",
    "images:\n  tools:\n    base: sandfleet/busybox\n    steps:\n      - dockerfile: 'RUN true \\'\n",
    () => image({ base: "sandfleet/busybox", steps: [{ dockerfile: "RUN true \\" }] }),
    "steps[0].dockerfile",
  ],
  [
    "a user step that ends in \\",
    "images:\n  tools:\n    base: sandfleet/busybox\n    steps:\n      - user: 'sandbox\\'\n",
    () => image({ base: "sandfleet/busybox", steps: [{ user: "sandbox\\" }] }),
    "steps[0].user",
  ],
  [
    "a base that is not an image reference",
    "images:\n  tools:\n    base: 'sandfleet/busybox AS x'\n",
    () => image({ base: "sandfleet/busybox AS x" }),
    "base",
  ],
  [
    "a Kelvin sign in an egress host",
    'sandboxes:\n  web:\n    image: sandfleet/busybox\n    egress: { allow: ["\u212Aube.io"] }\n',
    () => sandbox({ egress: { allow: ["\u212Aube.io"] } }),
    "egress.allow[0]",
  ],
  [
    "a look-alike letter in a webhook's host",
    'webhooks:\n  - url: "https://ex\u0430mple.com/hook"\n    secretEnv: HOOK_KEY\n',
    () => ({ property: "url", reason: webhookUrlProblem("https://ex\u0430mple.com/hook") ?? "" }),
    "url",
  ],
  [
    "a pool of 20000",
    "pools:\n  p:\n    replicas: 20000\n    template: { image: sandfleet/busybox }\n",
    () =>
      apiVerdict(
        poolParamsProblems({ app: "demo", name: "p", replicas: 20_000, template: { image: "sandfleet/busybox" } }),
      ),
    "replicas",
  ],
];

describe("one verdict for one mistake, in sandfleet.yaml and in the TypeScript API", () => {
  it.each(CASES)("%s", (_what, yaml, api, apiProperty) => {
    const fromYaml = yamlVerdict(yaml);
    const fromApi = api();
    expect(fromApi.property).toBe(apiProperty);
    expect(fromApi.reason).not.toBe("");
    if (apiProperty === "replicas") expect(fromYaml).toContain("must be at most 500");
    // The file names the folder as "the folder of <file>", the API by its path.
    else
      expect(fromYaml.replace("the folder of sandfleet.yaml", hostile)).toMatch(
        new RegExp(`${escape(fromApi.reason)}$`),
      );
  });

  it("refuses mount targets the same way", () => {
    for (const target of ["/proc", "/dev/shm", "/tmp/../proc", "/data:rw", "/sys/fs/cgroup"]) {
      const fromYaml = yamlVerdict(
        `volumes:\n  v: {}\nsandboxes:\n  web:\n    image: sandfleet/busybox\n    volumes:\n      "${target}": v\n`,
      );
      const fromApi = sandbox({ volumes: [{ mountPath: target, volume: "v" }] });
      expect(fromApi.property).toBe("volumes[0].mountPath");
      expect(fromYaml.endsWith(fromApi.reason)).toBe(true);
    }
  });
});

type Verdict = { property: string; reason: string }[];

/** The problems of sandfleet.yaml, as "path: reason" (none when it loads). */
function yamlVerdicts(body: string): string[] {
  return loadSpec(`app: demo\n${body}`, "sandfleet.yaml", hostile).issues.map((i) => `${i.path}: ${i.reason}`);
}

const web = (lines: string) => `sandboxes:\n  web:\n    image: sandfleet/busybox\n${lines}`;
const sandboxApi = (params: Record<string, unknown>): Verdict =>
  sandboxParamsProblems({ app: "demo", image: "sandfleet/busybox", ...params });
const poolApi = (params: Record<string, unknown>): Verdict =>
  poolParamsProblems({ app: "demo", name: "p", replicas: 1, template: { image: "sandfleet/busybox" }, ...params });
const cluster = (target: Record<string, unknown>): Verdict => sandboxApi({ kubernetes: target });
const hook = (fields: string) => `webhooks:\n  - { secretEnv: KEY, ${fields} }\n`;
const hookApi = (fields: Record<string, unknown>): Verdict => webhookProblems([{ secretEnv: "KEY", ...fields }]);
const many = (n: number, item: (i: number) => string) => Array.from({ length: n }, (_, i) => item(i)).join(", ");

/**
 * Mistakes made through both doors: [what, sandfleet.yaml, the API's
 * verdict, where the file says it, where the API says it]. Each is refused
 * by both, at its own name for the property, with the same words; a value
 * that only the schema's pattern refuses is quoted first in the file.
 */
const BOTH_DOORS: [what: string, yaml: string, api: () => Verdict, yamlPath: string, apiProperty: string][] = [
  [
    "a lifetime that is not whole seconds",
    web("    timeout: 2500ms\n"),
    () => sandboxApi({ timeoutMs: 2500 }),
    "sandboxes.web.timeout",
    "timeoutMs",
  ],
  [
    "a lifetime over 24h",
    web("    timeout: 25h\n"),
    () => sandboxApi({ timeoutMs: 25 * 3_600_000 }),
    "sandboxes.web.timeout",
    "timeoutMs",
  ],
  [
    "an idle timeout of 1500ms",
    web("    idleTimeout: 1500ms\n"),
    () => sandboxApi({ idleTimeoutMs: 1500 }),
    "sandboxes.web.idleTimeout",
    "idleTimeoutMs",
  ],
  [
    "five million processes",
    web("    pids: 5000000\n"),
    () => sandboxApi({ pidsLimit: 5_000_000 }),
    "sandboxes.web.pids",
    "pidsLimit",
  ],
  ["no processes at all", web("    pids: 0\n"), () => sandboxApi({ pidsLimit: 0 }), "sandboxes.web.pids", "pidsLimit"],
  [
    "a fraction of a process",
    web("    pids: 1.5\n"),
    () => sandboxApi({ pidsLimit: 1.5 }),
    "sandboxes.web.pids",
    "pidsLimit",
  ],
  ["2000 cores", web("    cpu: 2000\n"), () => sandboxApi({ cpu: 2000 }), "sandboxes.web.cpu", "cpu"],
  ["a thousandth of a core", web("    cpu: 0.001\n"), () => sandboxApi({ cpu: 0.001 }), "sandboxes.web.cpu", "cpu"],
  ["4Mi of memory", web("    memory: 4Mi\n"), () => sandboxApi({ memoryMiB: 4 }), "sandboxes.web.memory", "memoryMiB"],
  [
    "a hundred million GiB of memory",
    web("    memory: 99999999Gi\n"),
    () => sandboxApi({ memoryMiB: 99_999_999 * 1024 }),
    "sandboxes.web.memory",
    "memoryMiB",
  ],
  ["8Mi of disk", web("    disk: 8Mi\n"), () => sandboxApi({ diskMiB: 8 }), "sandboxes.web.disk", "diskMiB"],
  [
    "port 0",
    web("    network: app\n    ports: [0]\n"),
    () => sandboxApi({ network: "app", ports: [0] }),
    "sandboxes.web.ports[0]",
    "ports[0]",
  ],
  [
    "port 70000",
    web("    network: app\n    ports: [70000]\n"),
    () => sandboxApi({ network: "app", ports: [70_000] }),
    "sandboxes.web.ports[0]",
    "ports[0]",
  ],
  [
    "a port twice",
    web("    network: app\n    ports: [80, 80]\n"),
    () => sandboxApi({ network: "app", ports: [80, 80] }),
    "sandboxes.web.ports",
    "ports",
  ],
  [
    "65 ports",
    web(`    network: app\n    ports: [${many(65, (i) => String(i + 1))}]\n`),
    () => sandboxApi({ network: "app", ports: Array.from({ length: 65 }, (_, i) => i + 1) }),
    "sandboxes.web.ports",
    "ports",
  ],
  [
    "ports without a network",
    web("    ports: [8000]\n"),
    () => sandboxApi({ ports: [8000] }),
    "sandboxes.web.ports",
    "ports",
  ],
  [
    "runsc with a network",
    web("    network: app\n    runtime: runsc\n"),
    () => sandboxApi({ network: "app", runtime: "runsc" }),
    "sandboxes.web.runtime",
    "runtime",
  ],
  [
    "an unknown network",
    web("    network: host\n"),
    () => sandboxApi({ network: "host" }),
    "sandboxes.web.network",
    "network",
  ],
  [
    "an unknown runtime",
    web("    runtime: kata\n"),
    () => sandboxApi({ runtime: "kata" }),
    "sandboxes.web.runtime",
    "runtime",
  ],
  [
    "an unknown idle action",
    web("    idleAction: sleep\n"),
    () => sandboxApi({ idleAction: "sleep" }),
    "sandboxes.web.idleAction",
    "idleAction",
  ],
  [
    "pause without an idle timeout",
    web("    idleAction: pause\n"),
    () => sandboxApi({ idleAction: "pause" }),
    "sandboxes.web.idleAction",
    "idleAction",
  ],
  [
    "a probe of both kinds",
    web("    network: app\n    ports: [80]\n    readiness: { tcp: 80, exec: [x] }\n"),
    () => sandboxApi({ network: "app", ports: [80], readiness: { tcpPort: 80, exec: ["x"] } }),
    "sandboxes.web.readiness",
    "readiness",
  ],
  [
    "a probe of no kind",
    web("    readiness: { interval: 1s }\n"),
    () => sandboxApi({ readiness: { intervalMs: 1000 } }),
    "sandboxes.web.readiness",
    "readiness",
  ],
  [
    "a probe of a port not published",
    web("    network: app\n    ports: [80]\n    readiness: { tcp: 81 }\n"),
    () => sandboxApi({ network: "app", ports: [80], readiness: { tcpPort: 81 } }),
    "sandboxes.web.readiness.tcp",
    "readiness.tcpPort",
  ],
  [
    "a probe on port 0",
    web("    readiness: { tcp: 0 }\n"),
    () => sandboxApi({ readiness: { tcpPort: 0 } }),
    "sandboxes.web.readiness.tcp",
    "readiness.tcpPort",
  ],
  [
    "a probe every 9999h",
    web("    readiness: { exec: [x], interval: 9999h }\n"),
    () => sandboxApi({ readiness: { exec: ["x"], intervalMs: 9999 * 3_600_000 } }),
    "sandboxes.web.readiness.interval",
    "readiness.intervalMs",
  ],
  [
    "a probe every 5ms",
    web("    readiness: { exec: [x], interval: 5ms }\n"),
    () => sandboxApi({ readiness: { exec: ["x"], intervalMs: 5 } }),
    "sandboxes.web.readiness.interval",
    "readiness.intervalMs",
  ],
  [
    "a probe waiting 25h",
    web("    readiness: { exec: [x], timeout: 25h }\n"),
    () => sandboxApi({ readiness: { exec: ["x"], timeoutMs: 25 * 3_600_000 } }),
    "sandboxes.web.readiness.timeout",
    "readiness.timeoutMs",
  ],
  [
    "an env variable a secret sets too",
    `secrets:\n  s: { values: { A: { env: A } } }\n${web("    secrets: [s]\n    env: { A: x }\n")}`,
    () => sandboxApi({ env: { A: "x" }, secretEnv: { A: "y" } }),
    "sandboxes.web.env.A",
    "env.A",
  ],
  [
    'a supervisor of "yes"',
    web('    supervisor: "yes"\n'),
    () => sandboxApi({ supervisor: "yes" }),
    "sandboxes.web.supervisor",
    "supervisor",
  ],
  [
    "a read-only root of 1",
    web("    readOnlyRootfs: 1\n"),
    () => sandboxApi({ readOnlyRootfs: 1 }),
    "sandboxes.web.readOnlyRootfs",
    "readOnlyRootfs",
  ],
  ["an empty user", web('    user: ""\n'), () => sandboxApi({ user: "" }), "sandboxes.web.user", "user"],
  [
    "an empty image",
    'sandboxes:\n  web:\n    image: ""\n',
    () => sandboxApi({ image: "" }),
    "sandboxes.web.image",
    "image",
  ],
  [
    "an env value that is a number",
    web("    env: { A: 3 }\n"),
    () => sandboxApi({ env: { A: 3 } }),
    "sandboxes.web.env.A",
    "env.A",
  ],
  [
    "257 tags",
    web(`    tags: { ${many(257, (i) => `t${String(i)}: x`)} }\n`),
    () => sandboxApi({ tags: Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`t${String(i)}`, "x"])) }),
    "sandboxes.web.tags",
    "tags",
  ],
  [
    "33 mounts",
    `volumes:\n  v: {}\n${web(`    volumes: { ${many(33, (i) => `/m${String(i)}: v`)} }\n`)}`,
    () => sandboxApi({ volumes: Array.from({ length: 33 }, (_, i) => ({ mountPath: `/m${String(i)}`, volume: "v" })) }),
    "sandboxes.web.volumes",
    "volumes",
  ],
  [
    'a mount read-only of "no"',
    `volumes:\n  v: {}\n${web('    volumes: { /data: { volume: v, readOnly: "no" } }\n')}`,
    () => sandboxApi({ volumes: [{ mountPath: "/data", volume: "v", readOnly: "no" }] }),
    "sandboxes.web.volumes./data.readOnly",
    "volumes[0].readOnly",
  ],
  [
    "a lifetime of 0s",
    web("    timeout: 0s\n"),
    () => sandboxApi({ timeoutMs: 0 }),
    "sandboxes.web.timeout",
    "timeoutMs",
  ],
  ["no memory", web("    memory: 0Mi\n"), () => sandboxApi({ memoryMiB: 0 }), "sandboxes.web.memory", "memoryMiB"],
  [
    "a probe every 0ms",
    web("    readiness: { exec: [x], interval: 0ms }\n"),
    () => sandboxApi({ readiness: { exec: ["x"], intervalMs: 0 } }),
    "sandboxes.web.readiness.interval",
    "readiness.intervalMs",
  ],
  [
    "an egress entry that is no destination",
    web('    egress: { allow: ["exa mple.com"] }\n'),
    () => sandboxApi({ egress: { allow: ["exa mple.com"] } }),
    "sandboxes.web.egress.allow[0]",
    "egress.allow[0]",
  ],
  [
    "egress with a network",
    web("    network: app\n    egress: { allow: [pypi.org] }\n"),
    () => sandboxApi({ network: "app", egress: { allow: ["pypi.org"] } }),
    "sandboxes.web.egress",
    "egress",
  ],
  [
    "257 egress entries",
    web(`    egress: { allow: [${many(257, (i) => `h${String(i)}.example.com`)}] }\n`),
    () => sandboxApi({ egress: { allow: Array.from({ length: 257 }, (_, i) => `h${String(i)}.example.com`) } }),
    "sandboxes.web.egress.allow",
    "egress.allow",
  ],
  [
    "a pool of 20000",
    "pools:\n  p:\n    replicas: 20000\n    template: { image: sandfleet/busybox }\n",
    () => poolApi({ replicas: 20_000 }),
    "pools.p.replicas",
    "replicas",
  ],
  [
    "a pool of -1",
    "pools:\n  p:\n    replicas: -1\n    template: { image: sandfleet/busybox }\n",
    () => poolApi({ replicas: -1 }),
    "pools.p.replicas",
    "replicas",
  ],
  [
    "an unknown rollout",
    "pools:\n  p:\n    replicas: 1\n    rollout: fast\n    template: { image: sandfleet/busybox }\n",
    () => poolApi({ rollout: "fast" }),
    "pools.p.rollout",
    "rollout",
  ],
  [
    "a pool member living 2500ms",
    "pools:\n  p:\n    replicas: 1\n    template: { image: sandfleet/busybox, timeout: 2500ms }\n",
    () => poolApi({ template: { image: "sandfleet/busybox", timeoutMs: 2500 } }),
    "pools.p.template.timeout",
    "template.timeoutMs",
  ],
  [
    "a registry of dots",
    'kubernetes: { registry: "..:5000" }\n',
    () => cluster({ registry: "..:5000" }),
    "kubernetes.registry",
    "kubernetes.registry",
  ],
  [
    "a registry on port 99999",
    "kubernetes: { registry: registry.internal:99999 }\n",
    () => cluster({ registry: "registry.internal:99999" }),
    "kubernetes.registry",
    "kubernetes.registry",
  ],
  [
    "a registry on port 0",
    "kubernetes: { registry: registry.internal:0 }\n",
    () => cluster({ registry: "registry.internal:0" }),
    "kubernetes.registry",
    "kubernetes.registry",
  ],
  [
    "a registry with a scheme",
    "kubernetes: { registry: https://registry.internal }\n",
    () => cluster({ registry: "https://registry.internal" }),
    "kubernetes.registry",
    "kubernetes.registry",
  ],
  [
    "a registry label starting with -",
    "kubernetes: { registry: -evil.example.com }\n",
    () => cluster({ registry: "-evil.example.com" }),
    "kubernetes.registry",
    "kubernetes.registry",
  ],
  [
    "volumes of 0Gi",
    "kubernetes: { registry: r.example.com, volumeSize: 0Gi }\n",
    () => cluster({ registry: "r.example.com", volumeSize: "0Gi" }),
    "kubernetes.volumeSize",
    "kubernetes.volumeSize",
  ],
  [
    "volumes of 100Ti",
    "kubernetes: { registry: r.example.com, volumeSize: 100Ti }\n",
    () => cluster({ registry: "r.example.com", volumeSize: "100Ti" }),
    "kubernetes.volumeSize",
    "kubernetes.volumeSize",
  ],
  [
    "a namespace in capitals",
    "kubernetes: { registry: r.example.com, namespace: Sandboxes }\n",
    () => cluster({ registry: "r.example.com", namespace: "Sandboxes" }),
    "kubernetes.namespace",
    "kubernetes.namespace",
  ],
  [
    "a Docker host on port 99999",
    "dockerHost: tcp://engine.example.com:99999\n",
    () => sandboxApi({ dockerHost: "tcp://engine.example.com:99999" }),
    "dockerHost",
    "dockerHost",
  ],
  [
    "a Docker host with a password",
    "dockerHost: tcp://me:pw@engine.example.com:2376\n",
    () => sandboxApi({ dockerHost: "tcp://me:pw@engine.example.com:2376" }),
    "dockerHost",
    "dockerHost",
  ],
  [
    "a Docker host over ftp",
    "dockerHost: ftp://engine.example.com\n",
    () => sandboxApi({ dockerHost: "ftp://engine.example.com" }),
    "dockerHost",
    "dockerHost",
  ],
  [
    "an ssh user that is an option",
    "dockerHost: ssh://-oProxyCommand=x@engine.example.com\n",
    () => sandboxApi({ dockerHost: "ssh://-oProxyCommand=x@engine.example.com" }),
    "dockerHost",
    "dockerHost",
  ],
  [
    "a webhook with a backslash before @",
    hook('url: "https://evil.example\\\\@hooks.example.com/x"'),
    () => hookApi({ url: "https://evil.example\\@hooks.example.com/x" }),
    "webhooks[0].url",
    "webhooks[0].url",
  ],
  [
    "a webhook with credentials",
    hook("url: https://user:pw@hooks.example.com/x"),
    () => hookApi({ url: "https://user:pw@hooks.example.com/x" }),
    "webhooks[0].url",
    "webhooks[0].url",
  ],
  [
    "a webhook on port 0",
    hook("url: https://hooks.example.com:0/x"),
    () => hookApi({ url: "https://hooks.example.com:0/x" }),
    "webhooks[0].url",
    "webhooks[0].url",
  ],
  [
    "a webhook on port 99999",
    hook("url: https://hooks.example.com:99999/x"),
    () => hookApi({ url: "https://hooks.example.com:99999/x" }),
    "webhooks[0].url",
    "webhooks[0].url",
  ],
  [
    "a webhook to a look-alike host",
    hook("url: https://hооks.example.com/x"),
    () => hookApi({ url: "https://hооks.example.com/x" }),
    "webhooks[0].url",
    "webhooks[0].url",
  ],
  [
    "a webhook to the engine's port on loopback",
    hook("url: http://127.0.0.1:2375/x"),
    () => hookApi({ url: "http://127.0.0.1:2375/x" }),
    "webhooks[0].url",
    "webhooks[0].url",
  ],
  [
    "a webhook to cloud metadata",
    hook("url: http://169.254.169.254/latest"),
    () => hookApi({ url: "http://169.254.169.254/latest" }),
    "webhooks[0].url",
    "webhooks[0].url",
  ],
  [
    "a webhook to loopback written as a number",
    hook("url: http://2130706433/x"),
    () => hookApi({ url: "http://2130706433/x" }),
    "webhooks[0].url",
    "webhooks[0].url",
  ],
  [
    "a webhook over ftp",
    hook("url: ftp://hooks.example.com/x"),
    () => hookApi({ url: "ftp://hooks.example.com/x" }),
    "webhooks[0].url",
    "webhooks[0].url",
  ],
  [
    'a webhook with allowPrivate of "yes"',
    hook('url: https://hooks.example.com/x, allowPrivate: "yes"'),
    () => hookApi({ url: "https://hooks.example.com/x", allowPrivate: "yes" }),
    "webhooks[0].allowPrivate",
    "webhooks[0].allowPrivate",
  ],
  [
    "a webhook of an unknown event",
    hook("url: https://hooks.example.com/x, events: [deleted]"),
    () => hookApi({ url: "https://hooks.example.com/x", events: ["deleted"] }),
    "webhooks[0].events[0]",
    "webhooks[0].events[0]",
  ],
  [
    "21 webhooks",
    `webhooks:\n${"  - { url: https://hooks.example.com/x, secretEnv: KEY }\n".repeat(21)}`,
    () => webhookProblems(Array.from({ length: 21 }, () => ({ url: "https://hooks.example.com/x", secretEnv: "KEY" }))),
    "webhooks",
    "webhooks",
  ],
];

describe("every mistake through both doors", () => {
  it.each(BOTH_DOORS)("%s: one verdict, one wording", (_what, yaml, api, yamlPath, apiProperty) => {
    const fromYaml = yamlVerdicts(yaml);
    const fromApi = api();
    expect(fromYaml).toHaveLength(1);
    expect(fromApi).toHaveLength(1);
    const [path = "", ...rest] = (fromYaml[0] ?? "").split(": ");
    const yamlReason = rest.join(": ");
    expect(path).toBe(yamlPath);
    expect(fromApi[0]?.property).toBe(apiProperty);
    const apiReason = fromApi[0]?.reason ?? "";
    expect(apiReason).not.toBe("");
    // Exactly the same words; a value refused by a schema pattern alone is quoted first in the file.
    if (yamlReason !== apiReason) expect(yamlReason).toMatch(new RegExp(`^"[^"]*" ${escape(apiReason)}$`));
  });

  it.each([
    [
      "a TCP probe of a port the sandbox does not publish",
      web("    readiness: { tcp: 8000 }\n"),
      () => sandboxApi({ readiness: { tcpPort: 8000 } }),
    ],
    [
      "a webhook to loopback that allows it",
      hook("url: http://127.0.0.1:8080/x, allowPrivate: true"),
      () => hookApi({ url: "http://127.0.0.1:8080/x", allowPrivate: true }),
    ],
    ["a lifetime of 90 whole seconds", web("    timeout: 90s\n"), () => sandboxApi({ timeoutMs: 90_000 })],
    [
      "a registry with a port and a path",
      "kubernetes: { registry: registry.internal:5000/team }\n",
      () => cluster({ registry: "registry.internal:5000/team" }),
    ],
  ] as [string, string, () => Verdict][])("%s: accepted by both", (_what, yaml, api) => {
    expect(yamlVerdicts(yaml)).toEqual([]);
    expect(api()).toEqual([]);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
