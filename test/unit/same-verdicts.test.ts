import { describe, expect, it } from "vitest";
import { imageParamsProblems } from "../../provider/runtime/image-recipe.ts";
import { poolParamsProblems } from "../../provider/runtime/pool.ts";
import { sandboxParamsProblems } from "../../provider/runtime/sandbox-params.ts";
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

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
