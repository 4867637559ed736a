import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { annotations } from "../../provider/spec/annotations.ts";
import { capacityIssues } from "../../provider/spec/capacity.ts";
import { fleetDemand, fleetUnits } from "../../provider/spec/fleet.ts";
import { formatIssue, type SpecIssue } from "../../provider/spec/issues.ts";
import { loadSpec } from "../../provider/spec/load.ts";
import { globMatches } from "../../provider/spec/glob.ts";
import { checkPolicy, loadPolicy, type Policy } from "../../provider/spec/policy.ts";

const SPEC = `app: agents
internet: true
images:
  tools:
    base: docker.io/library/python:3.12
sandboxes:
  web:
    image: sandfleet/busybox
    memory: 2Gi
    tags: { team: web }
pools:
  untrusted:
    replicas: 60
    template:
      image: tools
      cpu: 3
      tags: { trust: untrusted }
  trusted:
    replicas: 2
    template:
      image: sandfleet/python
      runtime: runsc
      pids: 4096
      tags: { trust: trusted, team: ml }
`;

function loaded(text = SPEC) {
  const result = loadSpec(text, "sandfleet.yaml", "/tmp");
  if (!result.spec) throw new Error(result.issues.map(formatIssue).join("\n"));
  return result;
}

function policy(text: string): Policy {
  const result = loadPolicy(text, "policy.yaml");
  if (!result.policy) throw new Error(result.issues.map(formatIssue).join("\n"));
  return result.policy;
}

/** The violations of a one-rule policy, as the lines validate prints. */
function violations(rule: string, text = SPEC): string[] {
  const { spec, source } = loaded(text);
  return checkPolicy(policy(`rules:\n  - ${rule.trim().replace(/\n/g, "\n    ")}\n`), spec, source).map(formatIssue);
}

describe("policy rules", () => {
  it("runtime: pools with the tags must run under it", () => {
    expect(violations("name: gvisor\nruntime: runsc\nwhen: { tags: { trust: untrusted } }")).toEqual([
      'sandfleet.yaml:14:5  pools.untrusted.template: runtime must be runsc for sandboxes tagged trust=untrusted (is runc) (policy rule "gvisor")',
    ]);
    expect(violations("name: gvisor\nruntime: runsc\nwhen: { tags: { trust: trusted } }")).toEqual([]);
  });

  it("internet: false refuses an app with the internet", () => {
    expect(violations("name: closed\ninternet: false")).toEqual([
      'sandfleet.yaml:2:11  internet: internet: true is not allowed (policy rule "closed")',
    ]);
    expect(violations("name: closed\ninternet: false", SPEC.replace("internet: true", "internet: false"))).toEqual([]);
  });

  it("max: bounds each sandbox and pool member, defaults included, and each pool's replicas", () => {
    expect(violations("name: size\nmax: { cpu: 2, memory: 1Gi, pids: 1024, replicas: 50 }")).toEqual([
      'sandfleet.yaml:9:13  sandboxes.web.memory: memory must be at most 1024 MiB (is 2048 MiB) (policy rule "size")',
      'sandfleet.yaml:13:15  pools.untrusted.replicas: replicas must be at most 50 (is 60) (policy rule "size")',
      'sandfleet.yaml:16:12  pools.untrusted.template.cpu: cpu must be at most 2 (is 3) (policy rule "size")',
      'sandfleet.yaml:23:13  pools.trusted.template.pids: pids must be at most 1024 (is 4096) (policy rule "size")',
    ]);
    expect(violations("name: size\nmax: { cpu: 3, memory: 2Gi, pids: 4096, replicas: 60 }")).toEqual([]);
    expect(violations("name: size\nmax: { disk: 1Gi }")).toEqual([
      'sandfleet.yaml:7:3  sandboxes.web: disk must be at most 1024 MiB (is 10240 MiB, the default) (policy rule "size")',
      'sandfleet.yaml:14:5  pools.untrusted.template: disk must be at most 1024 MiB (is 10240 MiB, the default) (policy rule "size")',
      'sandfleet.yaml:20:5  pools.trusted.template: disk must be at most 1024 MiB (is 10240 MiB, the default) (policy rule "size")',
    ]);
  });

  it("maxPerApp: bounds the whole app, pool members counted one by one", () => {
    expect(violations("name: budget\nmaxPerApp: { cpu: 100, replicas: 50 }")).toEqual([
      'sandfleet.yaml:1:6  app: app "agents" may have at most 100 of cpu in all (has 183) (policy rule "budget")',
      'sandfleet.yaml:1:6  app: app "agents" may have at most 50 of sandboxes (replicas included) in all (has 63) (policy rule "budget")',
    ]);
    expect(violations("name: budget\nmaxPerApp: { cpu: 183, memory: 33Gi, replicas: 63 }")).toEqual([]);
  });

  it("images: only allowed bases and references", () => {
    expect(violations('name: trusted-images\nimages: ["sandfleet/*"]')).toEqual([
      'sandfleet.yaml:5:11  images.tools.base: base image "docker.io/library/python:3.12" is not one of the allowed images: sandfleet/* (policy rule "trusted-images")',
    ]);
    expect(violations('name: trusted-images\nimages: ["sandfleet/*", "docker.io/library/python:*"]')).toEqual([]);
  });

  it("requiredTags: every sandbox and pool has them", () => {
    expect(violations("name: owned\nrequiredTags: [team]")).toEqual([
      'sandfleet.yaml:17:13  pools.untrusted.template.tags: must have the tag team (policy rule "owned")',
    ]);
    expect(violations("name: owned\nrequiredTags: [team]\nwhen: { tags: { trust: trusted } }")).toEqual([]);
  });

  it("a warning is reported as one and does not make the spec invalid", () => {
    const { spec, source } = loaded();
    const issues = checkPolicy(policy("rules:\n  - { name: closed, level: warning, internet: false }\n"), spec, source);
    expect(issues.map(formatIssue)).toEqual([
      'sandfleet.yaml:2:11  warning: internet: internet: true is not allowed (policy rule "closed")',
    ]);
    expect(annotations(issues, "github", ["sandfleet.yaml"])).toBe(
      '::warning file=sandfleet.yaml,line=2,col=11,title=sandfleet policy closed::internet: internet: true is not allowed (policy rule "closed")',
    );
  });
});

describe("policy rules cannot be gone around", () => {
  const only = (rule: string, body: string, dir = "/tmp") => {
    const result = loadSpec(`app: agents\n${body}`, "sandfleet.yaml", dir);
    if (!result.spec) throw new Error(result.issues.map(formatIssue).join("\n"));
    return checkPolicy(policy(`rules:\n  - ${rule.trim().replace(/\n/g, "\n    ")}\n`), result.spec, result.source).map(
      formatIssue,
    );
  };
  const IMAGES = 'name: known\nimages: ["sandfleet/*"]';

  it("images: a ref, a COPY --from and a Dockerfile's FROMs (read as Docker reads them) are images too", () => {
    const dir = mkdtempSync(join(tmpdir(), "sandfleet-policy-"));
    writeFileSync(
      join(dir, "Dockerfile"),
      [
        "# syntax=evil/frontend",
        "# escape=`",
        "FROM sandfleet/busybox AS build",
        "from `",
        "  evil/base",
        "COPY --from=build /a /a",
        "COPY --from=evil/copy /b /b",
        "RUN --mount=type=bind,from=evil/mount,target=/m true",
        "FR`",
        "OM evil/joined",
        "FROM `",
        "",
        "evil/blank",
        'FROM "sandfleet/busybox"',
        "FROM $BASE",
        "",
      ].join("\n"),
    );
    expect(
      only(
        IMAGES,
        "images:\n  a: { ref: evil/ref }\n  b:\n    base: sandfleet/busybox\n    steps:\n      - dockerfile: COPY --from=evil/x:1 /a /b\n  c:\n    dockerfile: { path: Dockerfile }\n",
        dir,
      ),
    ).toEqual([
      'sandfleet.yaml:3:13  images.a.ref: image reference "evil/ref" is not one of the allowed images: sandfleet/* (policy rule "known")',
      'sandfleet.yaml:7:21  images.b.steps[0].dockerfile: COPY --from image "evil/x:1" is not one of the allowed images: sandfleet/* (policy rule "known")',
      'sandfleet.yaml:9:25  images.c.dockerfile.path: Dockerfile line 1: # syntax= "evil/frontend" is not one of the allowed images: sandfleet/* (policy rule "known")',
      'sandfleet.yaml:9:25  images.c.dockerfile.path: Dockerfile line 4: FROM "evil/base" is not one of the allowed images: sandfleet/* (policy rule "known")',
      'sandfleet.yaml:9:25  images.c.dockerfile.path: Dockerfile line 7: COPY --from "evil/copy" is not one of the allowed images: sandfleet/* (policy rule "known")',
      'sandfleet.yaml:9:25  images.c.dockerfile.path: Dockerfile line 8: RUN --mount from "evil/mount" is not one of the allowed images: sandfleet/* (policy rule "known")',
      'sandfleet.yaml:9:25  images.c.dockerfile.path: Dockerfile line 9: FROM "evil/joined" is not one of the allowed images: sandfleet/* (policy rule "known")',
      'sandfleet.yaml:9:25  images.c.dockerfile.path: Dockerfile line 11: FROM "evil/blank" is not one of the allowed images: sandfleet/* (policy rule "known")',
      'sandfleet.yaml:9:25  images.c.dockerfile.path: Dockerfile line 14: FROM: "\\"sandfleet/busybox\\"" uses a build argument, quotes or escapes, so no policy can check it; name the image plainly (policy rule "known")',
      'sandfleet.yaml:9:25  images.c.dockerfile.path: Dockerfile line 15: FROM: "$BASE" uses a build argument, quotes or escapes, so no policy can check it; name the image plainly (policy rule "known")',
    ]);
  });

  it("images: a sandbox the rule selects cannot start from a snapshot of one it does not", () => {
    const body =
      "snapshots:\n  snap: { sandbox: source }\nsandboxes:\n  source: { image: evil/image }\n  web:\n    image: snap\n    tags: { trust: untrusted }\n";
    expect(only(`${IMAGES}\nwhen: { tags: { trust: untrusted } }`, body)).toEqual([
      'sandfleet.yaml:5:20  sandboxes.source.image: image of sandbox "source", which snapshot "snap" is taken from, "evil/image" is not one of the allowed images: sandfleet/* (policy rule "known")',
    ]);
  });

  it("internet: false refuses an allowlist that opens the internet, whole or in halves, and *.tld", () => {
    const body =
      "sandboxes:\n  a: { image: sandfleet/busybox, egress: { allow: [0.0.0.0/0] } }\n  b: { image: sandfleet/busybox, egress: { allow: [0.0.0.0/1, 128.0.0.0/1] } }\n  c: { image: sandfleet/busybox, egress: { allow: [64.0.0.0/2, 0.0.0.0/2, pypi.org, '*.com'] } }\n  d: { image: sandfleet/busybox, egress: { allow: [10.0.0.0/9, 203.0.113.0/24, '*.pythonhosted.org'] } }\n";
    expect(only("name: closed\ninternet: false", body)).toEqual([
      'sandfleet.yaml:3:51  sandboxes.a.egress.allow: the allowlist opens 4294967296 IPv4 addresses in all (a /8 or more counts as the internet); internet is not allowed (policy rule "closed")',
      'sandfleet.yaml:4:51  sandboxes.b.egress.allow: the allowlist opens 4294967296 IPv4 addresses in all (a /8 or more counts as the internet); internet is not allowed (policy rule "closed")',
      'sandfleet.yaml:5:51  sandboxes.c.egress.allow: the allowlist opens 2147483648 IPv4 addresses in all (a /8 or more counts as the internet); internet is not allowed (policy rule "closed")',
      'sandfleet.yaml:5:85  sandboxes.c.egress.allow[3]: "*.com" opens every name under a top-level domain, which is the internet; internet is not allowed (policy rule "closed")',
    ]);
  });

  it("internet: false refuses an image built with the network", () => {
    const body =
      "images:\n  tools:\n    base: sandfleet/busybox\n    network: true\n    steps: [{ run: 'wget http://example.com' }]\n";
    expect(only("name: closed\ninternet: false", body)).toEqual([
      'sandfleet.yaml:5:14  images.tools.network: builds with the network (network: true); internet is not allowed (policy rule "closed")',
    ]);
  });

  it("requiredTags and when: tags are the sandbox's own, never names every object inherits", () => {
    const body = "sandboxes:\n  web: { image: sandfleet/busybox, tags: { team: web } }\n";
    expect(only("name: owned\nrequiredTags: [constructor, toString, hasOwnProperty]", body)).toEqual([
      'sandfleet.yaml:3:42  sandboxes.web.tags: must have the tags constructor, toString, hasOwnProperty (policy rule "owned")',
    ]);
    expect(only("name: gvisor\nruntime: runsc\nwhen: { tags: { constructor: x } }", body)).toEqual([]);
  });

  it("images: a glob is matched without backtracking, and correctly", () => {
    const evil = "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
    const name = `sandfleet/${"a".repeat(100_000)}`;
    expect(globMatches(evil, name)).toBe(false);
    expect(globMatches(evil, `${name}b`)).toBe(true);
    const cases: [string, string, boolean][] = [
      ["sandfleet/*", "sandfleet/busybox", true],
      ["sandfleet/*", "sandfleet/", true],
      ["sandfleet/*", "sandfleetx/busybox", false],
      ["*", "", true],
      ["a*a", "a", false],
      ["a*a", "aa", true],
      ["*ab*ab*", "xabyab", true],
      ["*ab*ab*", "xaby", false],
      ["ghcr.io/acme/*:1.*", "ghcr.io/acme/tool:1.2", true],
      ["ghcr.io/acme/*:1.*", "ghcr.io/acme/tool:2.1", false],
      ["exact", "exact", true],
      ["exact", "exactly", false],
    ];
    for (const [pattern, value, want] of cases)
      expect([pattern, value, globMatches(pattern, value)]).toEqual([pattern, value, want]);
  });
});

describe("policy files", () => {
  it("are checked by their schema, at the line and column to edit", () => {
    const result = loadPolicy("rules:\n  - name: x\n    runtime: kata\n  - name: y\n    colour: red\n", "policy.yaml");
    expect(result.issues.map(formatIssue)).toEqual([
      'policy.yaml:3:14  rules[0].runtime: must be one of "runc", "runsc", not "kata"',
      'policy.yaml:5:5  rules[1].colour: unknown property "colour" (expected one of: name, level, when, runtime, internet, max, maxPerApp, images, requiredTags)',
    ]);
  });

  it("need exactly one check per rule, and names used once", () => {
    const result = loadPolicy(
      "rules:\n  - name: none\n  - name: two\n    runtime: runsc\n    internet: false\n  - name: none\n    internet: false\n",
      "policy.yaml",
    );
    expect(result.issues.map(formatIssue)).toEqual([
      "policy.yaml:2:5  rules[0]: has no check; give it one of runtime, internet, max, maxPerApp, images, requiredTags",
      "policy.yaml:3:5  rules[1]: has 2 checks (runtime, internet); give each its own rule",
      'policy.yaml:6:11  rules[2].name: is a second rule named "none"',
    ]);
  });
});

describe("annotations", () => {
  const issue: SpecIssue = { file: "a,b:c.yaml", line: 3, column: 7, path: "pools.p", reason: "50% too big\nreally" };

  it("escape GitHub's workflow command syntax", () => {
    expect(annotations([issue], "github", [])).toBe(
      "::error file=a%2Cb%3Ac.yaml,line=3,col=7,title=sandfleet::pools.p: 50%25 too big%0Areally",
    );
  });

  it("give GitLab a code-quality report with stable fingerprints", () => {
    const [entry] = JSON.parse(annotations([issue], "gitlab", [])) as Record<string, unknown>[];
    expect(entry).toMatchObject({
      description: "pools.p: 50% too big\nreally",
      check_name: "sandfleet",
      severity: "major",
      location: { path: "a,b:c.yaml", lines: { begin: 3 } },
    });
    expect(JSON.parse(annotations([issue], "gitlab", []))).toEqual([entry]);
  });
});

describe("capacity", () => {
  it("adds every sandbox and pool member at its limits", () => {
    expect(fleetDemand(fleetUnits(loaded().spec))).toEqual({
      sandboxes: 63,
      cpus: 183,
      memoryMiB: 33_792,
      diskMiB: 63 * 10_240,
      pids: 23_808,
    });
  });

  it("fails with the numbers when the fleet cannot fit, and passes when it can", () => {
    const { spec, source } = loaded();
    const engine = { name: "unix:///var/run/docker.sock", cpus: 2, memoryBytes: 24 * 1024 ** 3 };
    expect(capacityIssues(spec, source, engine).map(formatIssue)).toEqual([
      "sandfleet.yaml:1:6  app: the fleet does not fit the engine at unix:///var/run/docker.sock: its 63 sandboxes at their limits need 183 cpus (the engine has 2) and 33792 MiB of memory (the engine has 24576 MiB)",
    ]);
    expect(capacityIssues(spec, source, { ...engine, cpus: 200, memoryBytes: 40 * 1024 ** 3 })).toEqual([]);
  });
});
