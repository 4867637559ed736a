// The author of a pull request: what they write in sandfleet.yaml must mean to
// sandfleet what it shows a reviewer, and get past no policy. Driven as a
// reviewer's CI drives it, through `sandfleet validate`, and, for what reaches a
// Dockerfile, through a real build on the engine and a sandbox made from it.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../provider/errors.ts";
import { ensureImage } from "../../provider/runtime/images/image-build.ts";
import type { ImageStep } from "../../provider/runtime/images/image-recipe.ts";
import { LABEL } from "../../provider/runtime/engine-state/labels.ts";
import { Sandbox } from "../../provider/client/sandbox.ts";
import { cliPath, sandfleet } from "../support/cli.ts";
import { cleanupApp, docker, uniqueApp } from "../support/engine.ts";
import { mustRun, runCommand } from "../support/run.ts";

const hostile = new URL("../unit/spec-corpus/hostile/", import.meta.url).pathname;

/** The lines `validate` must print for a corpus file: its `# expect:` lines. */
function expected(file: string): string[] {
  const text = readFileSync(join(hostile, file), "utf8").replace(/^\uFEFF/, "");
  return [...text.matchAll(/^# expect: (.*)$/gm)].map((m) => `${file}:${m[1] ?? ""}`);
}

/** A folder of its own for files made at test time. */
function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "sandfleet-review-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

describe("sandfleet.yaml cannot say one thing to a reviewer and another to sandfleet", () => {
  // Each of these was "valid" before: it lost an entry, changed the image or the user, or hid text.
  const WORST = [
    "review-raw-trailing-backslash.yaml",
    "review-raw-from-mixed-case.yaml",
    "review-raw-heredoc.yaml",
    "review-raw-label-quoted-sandfleet.yaml",
    "review-dup-int-string.yaml",
    "review-dup-bool-string.yaml",
    "review-dup-sandbox-block.yaml",
    "review-yaml-11-directive.yaml",
    "review-tag-set.yaml",
    "review-not-utf8.yaml",
    "review-cr-only.yaml",
    "review-cr-mixed.yaml",
    "review-bidi-override-comment.yaml",
    "review-image-zero-width-raw.yaml",
    "review-egress-kelvin.yaml",
    "review-webhook-homoglyph.yaml",
    "review-proto-secret.yaml",
    "fix-webhook-alias-key.yaml",
    "fix-key-anchor.yaml",
    "fix-key-anchor-named.yaml",
  ];

  it.each(WORST)("`sandfleet validate` refuses %s at its place, exit 1", async (file) => {
    const result = await sandfleet(["validate", file], { cwd: hostile });
    expect(result.stderr.trimEnd().split("\n")).toEqual(expected(file));
    expect(result.code).toBe(1);
  });

  it("`sandfleet validate` refuses 100,000 nested [ at its place, without a stack overflow", async () => {
    const dir = folder({ "sandfleet.yaml": `app: demo\nx: ${"[".repeat(100_000)}1${"]".repeat(100_000)}\n` });
    made.push(dir);
    const result = await sandfleet(["validate", "sandfleet.yaml"], { cwd: dir });
    expect(result.stderr.trimEnd()).toBe("sandfleet.yaml:2:35  syntax: nested more than 32 levels deep");
    expect(result.code).toBe(1);
  });
});

describe("a policy cannot be gone around", () => {
  const POLICY = `rules:
  - name: known-images
    images: ["*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", "sandfleet/*"]
  - name: closed
    internet: false
  - name: owned
    requiredTags: [constructor, toString]
`;
  const SPEC = `app: demo
images:
  a: { ref: "evil/ref" }
  b:
    base: sandfleet/busybox
    network: true
    steps:
      - dockerfile: COPY --from=evil/copy /etc/passwd /stolen
snapshots:
  snap: { sandbox: source }
sandboxes:
  source:
    image: evil/source
    tags: { constructor: x, toString: y }
  web:
    image: snap
    egress: { allow: [0.0.0.0/1, 128.0.0.0/1] }
    tags: { team: web }
  long:
    image: sandfleet/${"a".repeat(200)}
    tags: { constructor: x, toString: y }
`;

  it("`sandfleet validate --policy` finds every way in, each at its place", async () => {
    const dir = folder({ "sandfleet.yaml": SPEC, "policy.yaml": POLICY });
    made.push(dir);
    const result = await sandfleet(["validate", "sandfleet.yaml", "--policy", "policy.yaml"], { cwd: dir });
    expect(result.stderr.trimEnd().split("\n")).toEqual([
      'sandfleet.yaml:3:13  images.a.ref: image reference "evil/ref" is not one of the allowed images: *a*a*a*a*a*a*a*a*a*a*a*a*a*a*b, sandfleet/* (policy rule "known-images")',
      'sandfleet.yaml:6:14  images.b.network: builds with the network (network: true); internet is not allowed (policy rule "closed")',
      'sandfleet.yaml:8:21  images.b.steps[0].dockerfile: COPY --from image "evil/copy" is not one of the allowed images: *a*a*a*a*a*a*a*a*a*a*a*a*a*a*b, sandfleet/* (policy rule "known-images")',
      'sandfleet.yaml:13:12  sandboxes.source.image: image "evil/source" is not one of the allowed images: *a*a*a*a*a*a*a*a*a*a*a*a*a*a*b, sandfleet/* (policy rule "known-images")',
      'sandfleet.yaml:17:22  sandboxes.web.egress.allow: the allowlist opens 4294967296 IPv4 addresses in all (a /8 or more counts as the internet); internet is not allowed (policy rule "closed")',
      'sandfleet.yaml:18:11  sandboxes.web.tags: must have the tags constructor, toString (policy rule "owned")',
    ]);
    expect(result.code).toBe(1);
  });
});

describe("a pull request cannot loosen the policy that gates it", () => {
  it("the GitOps kit's pull-request job holds the change to the base branch's policy", async () => {
    const kit = new URL("../../examples/gitops/", import.meta.url).pathname;
    const repo = mkdtempSync(join(tmpdir(), "sandfleet-review-gitops-"));
    made.push(repo);
    for (const file of ["sandfleet.yaml", "sandfleet.policy.yaml", "Pulumi.yaml", "ci"]) {
      cpSync(join(kit, file), join(repo, file), { recursive: true });
    }
    const git = (...args: string[]) =>
      mustRun("git", ["-c", "user.name=ci", "-c", "user.email=ci@example.com", ...args], { cwd: repo });
    await git("init", "-q", "-b", "main");
    await git("add", ".");
    await git("commit", "-q", "-m", "base");
    await git("checkout", "-q", "-b", "loosen");
    // The change drops the rule that would refuse it, in the same pull request.
    const policy = readFileSync(join(repo, "sandfleet.policy.yaml"), "utf8");
    writeFileSync(
      join(repo, "sandfleet.policy.yaml"),
      policy.replace(/ {2}- name: no-open-internet\n {4}internet: false\n/, ""),
    );
    const spec = readFileSync(join(repo, "sandfleet.yaml"), "utf8");
    writeFileSync(join(repo, "sandfleet.yaml"), spec.replace(/^app: (.*)$/m, "app: $1\ninternet: true"));
    await git("commit", "-q", "-am", "open the internet");
    expect(await sandfleet(["validate"], { cwd: repo })).toMatchObject({ code: 0 });

    const review = await runCommand("bash", ["ci/pull-request.sh"], {
      cwd: repo,
      // A backend of its own: were validate to pass, the job's preview would make a stack there.
      env: {
        BASE_REF: "main",
        FORMAT: "text",
        SANDFLEET: `${process.execPath} ${cliPath}`,
        PULUMI_BACKEND_URL: `file://${repo}`,
        PULUMI_CONFIG_PASSPHRASE: "",
      },
    });
    expect(review.stderr).toMatch(
      /sandfleet\.yaml:\d+:\d+ {2}internet: internet: true is not allowed \(policy rule "no-open-internet"\)/,
    );
    expect(review.code).toBe(1);
  });
});

describe("a pull request's change to the policy is shown as it is", () => {
  // The section the pull-request job adds when the policy changes: text of the pull request's own
  // in the comment, where markup could hide a line of the change or the comment could grow past
  // what GitHub takes (and the last comment, of an older change, would stay).
  it("the policy section shows the diff as text in a fence nothing closes, every other character as its code, cut to a size", async () => {
    const kit = new URL("../../examples/gitops/", import.meta.url).pathname;
    const repo = mkdtempSync(join(tmpdir(), "sandfleet-review-policy-"));
    made.push(repo);
    for (const file of ["sandfleet.yaml", "sandfleet.policy.yaml", "ci"]) {
      cpSync(join(kit, file), join(repo, file), { recursive: true });
    }
    const git = (...args: string[]) =>
      mustRun("git", ["-c", "user.name=ci", "-c", "user.email=ci@example.com", ...args], { cwd: repo });
    await git("init", "-q", "-b", "main");
    await git("add", ".");
    await git("commit", "-q", "-m", "base");
    // A base branch whose name is markup of its own.
    await git("branch", "ma`in<b>");
    await git("checkout", "-q", "-b", "hostile");
    const policy = readFileSync(join(repo, "sandfleet.policy.yaml"), "utf8");
    const hostileLines = [
      "# ````````` fence of nine",
      "```",
      "</details><!-- hides what follows --> @platform-team [link](https://example.com)",
      "# right-to-left \u202e override, zero width \u200b, a CR \r alone, a tab \t",
      "#".repeat(30_000),
    ];
    writeFileSync(join(repo, "sandfleet.policy.yaml"), `${policy}${hostileLines.join("\n")}\n`);
    await git("commit", "-q", "-am", "hostile");
    const section = await runCommand("bash", ["ci/policy-section.sh"], {
      cwd: repo,
      env: { BASE_REF: "ma`in<b>", SANDFLEET: `${process.execPath} ${cliPath}` },
    });
    expect(section.code, section.stderr).toBe(0);
    const text = section.stdout;
    expect(text.length).toBeLessThan(30_000);
    expect(text).toMatch(/… cut at 18500 of \d+ characters/);
    // Printable ASCII and line breaks only; the rest as codes.
    expect(text.replace("…", "")).toMatch(/^[\x20-\x7e\n]*$/);
    expect(text).toContain("right-to-left \\u{202e} override, zero width \\u{200b}, a CR \\u{d} alone, a tab \\u{9}");
    expect(text).toContain("the policy of `mainb`");
    // Two blocks, each opened and closed by a fence longer than any run of backticks in the text.
    const lines = text.split("\n");
    const fences = lines.filter((line) => /^`{3,}/.test(line));
    expect(fences).toEqual(["``````````diff", "``````````", "``````````", "``````````"]);
    const [open, close] = [lines.indexOf("``````````diff"), lines.indexOf("``````````")];
    for (const line of hostileLines.slice(0, 3)) expect(lines.slice(open, close)).toContain(`+${line}`);
    // Outside the blocks only the job's own words.
    const outside = [...lines.slice(0, open), ...lines.slice(close + 1, lines.lastIndexOf("``````````") - 1)].filter(
      (line) => !/^`{3,}/.test(line),
    );
    expect(outside.join("\n")).not.toMatch(/<|@|\]\(/);

    // After a table that fills most of a comment, what is left is what the section takes.
    const tight = await runCommand("bash", ["ci/policy-section.sh"], {
      cwd: repo,
      env: { BASE_REF: "ma`in<b>", SANDFLEET: `${process.execPath} ${cliPath}`, ROOM: "5000" },
    });
    expect(tight.stdout.length).toBeLessThanOrEqual(5000);
    const none = await runCommand("bash", ["ci/policy-section.sh"], {
      cwd: repo,
      env: { BASE_REF: "ma`in<b>", SANDFLEET: `${process.execPath} ${cliPath}`, ROOM: "100" },
    });
    expect(none.stdout).toContain("the change is not shown for the size of a comment");
  });
});

describe("a build step cannot take the declared user away", () => {
  const app = uniqueApp("review");
  afterAll(async () => {
    await cleanupApp(app);
  });

  // Each is followed by `user: sandbox`. Docker joins a line that ends in \ with the next one, so
  // before, `RUN true \` swallowed `USER sandbox` and the sandbox ran as root; and a raw FROM in
  // any case replaced the base. Now each is refused before building, or builds with the user kept.
  // (`run` and `env` steps were never open to this: they are written as JSON strings, never ending in \.)
  const STEPS: [what: string, step: ImageStep][] = [
    ["a raw RUN ending in \\", { dockerfile: "RUN true \\" }],
    ["a raw run in lower case ending in \\ and spaces", { dockerfile: "run true \\   " }],
    ["a raw From in mixed case", { dockerfile: "From sandfleet/python" }],
    ["a raw fRoM in other cases", { dockerfile: "fRoM sandfleet/python" }],
  ];

  it.each(STEPS)("%s: refused, or the sandbox runs as the declared user (id -u is 1000)", async (what, step) => {
    const name = `img${String(STEPS.findIndex(([w]) => w === what))}`;
    const params = { app, name, base: "sandfleet/busybox", steps: [step, { user: "sandbox" }] };
    let imageRef: string;
    try {
      imageRef = (await ensureImage(docker, params)).imageRef;
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(await docker.images.list({ [LABEL.app]: app, [LABEL.name]: name })).toEqual([]);
      return;
    }
    await using sandbox = await Sandbox.create({ app, image: imageRef });
    const id = await sandbox.run(["id", "-u"]);
    expect(id.stdout.trim()).toBe("1000");
    // The base is still busybox: no python from a swallowed or replaced FROM.
    expect((await sandbox.run(["sh", "-c", "command -v python3 || echo none"])).stdout.trim()).toBe("none");
  });
});

describe("an image cannot carry sandfleet's own labels into its sandboxes", () => {
  const app = uniqueApp("review");
  afterAll(async () => {
    await cleanupApp(app);
  });

  // A container inherits its image's labels: a label spelt through a build argument would give
  // every sandbox of the image a tag (or a lifetime, or a pool mark) that no file shows.
  it("a Dockerfile that sets sandfleet.tag.* through a build argument is refused after its build, and leaves no image", async () => {
    const dir = folder({ Dockerfile: "FROM sandfleet/busybox\nARG K=sandfleet.tag.team\nLABEL $K=injected\n" });
    made.push(dir);
    const params = { app, name: "labelled", dockerfile: { path: "Dockerfile" }, sourceDir: dir };
    await expect(ensureImage(docker, params)).rejects.toThrow(
      "image labelled: carries sandfleet's own labels (sandfleet.tag.team), which every sandbox made from it would inherit; remove them from its Dockerfile or base image",
    );
    expect(await docker.images.list({ [LABEL.app]: app })).toEqual([]);
  });
});

// The preview comment on a pull request is what a reviewer reads. Text from the
// file (a tag's value, a key, a name) that opened an HTML comment (`<!--` in one
// field, `-->` in a later one) or a <details> would hide the changes between.
describe("the preview comment shows every change, whatever the values say", () => {
  const HOSTILE = [
    "<!--",
    "-->",
    "<details><summary>x</summary>",
    "<img src=x onerror=alert(1)>",
    "`",
    "a``b`",
    "` <!-- `",
    "a|b",
    "a\\",
    "a\\|b",
    "x\ny\r\nz",
    "\u202egnp.exe",
    "&lt;!--",
    "[x](https://example.invalid)",
    "@someone #1 *bold* _em_ ~~s~~ :smile:",
  ];
  const shown = (text: string) => text.replace(/[^\x20-\x7e]/gu, (c) => `\\u{${(c.codePointAt(0) ?? 0).toString(16)}}`);

  /** A table cell's code spans and the text around them, read as GitHub reads a GFM table cell. */
  function readCell(cell: string): { spans: string[]; prose: string } {
    const text = cell.replace(/\\\|/g, "|");
    const spans: string[] = [];
    let prose = "";
    let at = 0;
    while (at < text.length) {
      const run = /^`+/.exec(text.slice(at))?.[0];
      if (!run) {
        prose += text.charAt(at);
        at += 1;
        continue;
      }
      // The span ends at the next run of exactly as many backticks; without one, the run is text.
      const closer = new RegExp(`(?<!\`)${run}(?!\`)`, "g");
      closer.lastIndex = at + run.length;
      const end = closer.exec(text);
      if (!end) {
        prose += run;
        at += run.length;
        continue;
      }
      const inner = text.slice(at + run.length, end.index);
      spans.push(/^ .*[^ ].* $/s.test(inner) ? inner.slice(1, -1) : inner);
      at = end.index + run.length;
    }
    return { spans, prose };
  }

  it("hostile values in every column stay inside code spans, each shown whole, one row per resource", async () => {
    const { previewSummary } = await import("../../provider/cli/preview-summary.ts");
    const steps = HOSTILE.map((value, i) => ({
      op: i % 3 === 0 ? "replace" : "update",
      urn: `urn:pulumi:s::p::sandfleet:index:${i % 2 === 0 ? "Sandbox" : value}::${value}`,
      replaceReasons: [value],
      oldState: { type: i % 2 === 0 ? "sandfleet:index:Sandbox" : value, inputs: { name: value, tags: { k: "old" } } },
      newState: {
        type: i % 2 === 0 ? "sandfleet:index:Sandbox" : value,
        inputs: { name: value, tags: { [value]: value, k: value }, egress: ["0.0.0.0/0", value] },
      },
    }));
    const summary = previewSummary({ steps, changeSummary: { update: 1, [HOSTILE[0] ?? ""]: 1 } }, new Map(), "<!--");
    const lines = summary.split("\n");
    const rows = lines.filter(
      (line) => line.startsWith("| ") && !line.startsWith("| resource") && !line.startsWith("| ---"),
    );
    expect(rows).toHaveLength(HOSTILE.length);
    expect(lines.filter((line) => line !== "" && !line.startsWith("|") && !line.startsWith("### "))).toEqual([]);
    const title = readCell(lines[0] ?? "");
    expect(title.spans).toContain("<!--");
    expect(title.prose).toMatch(/^[\w :,#]*$/);
    rows.forEach((row, i) => {
      const value = HOSTILE[i] ?? "";
      // The cells as the table splits them: on every | that is not escaped.
      const cells = row
        .split(/(?<!\\)\|/)
        .slice(1, -1)
        .map(readCell);
      expect(cells).toHaveLength(4);
      const spans = cells.flatMap((cell) => cell.spans);
      // Outside code spans only sandfleet's own words: no markup, nothing of the value's.
      for (const cell of cells) expect(cell.prose.replaceAll("<br>", " ")).toMatch(/^[\w ,.;:()→—\-[\]]*$/);
      expect(spans).toContain(shown(value));
      expect(spans).toContain(shown(`tags.${value}`));
      expect(spans).toContain(shown(JSON.stringify(value)));
      expect(spans).toContain(shown(JSON.stringify(["0.0.0.0/0", value])));
    });
  });

  // GitHub refuses a comment over 65,536 characters: the last summary posted would stay, showing an older change.
  it("a huge value, or very many resources, still make a comment GitHub takes, which says what it left out", async () => {
    const { previewSummary } = await import("../../provider/cli/preview-summary.ts");
    const step = (i: number, value: string) => ({
      op: "update",
      urn: `urn:pulumi:s::p::sandfleet:index:Sandbox::web${String(i)}`,
      oldState: { type: "sandfleet:index:Sandbox", inputs: { name: `web${String(i)}`, tags: { k: "a" } } },
      newState: { type: "sandfleet:index:Sandbox", inputs: { name: `web${String(i)}`, tags: { k: value } } },
    });
    const huge = previewSummary({ steps: [step(0, "x".repeat(100_000)), step(1, "0.0.0.0/0")] }, new Map(), "s");
    expect(huge.length).toBeLessThan(65_536);
    expect(huge).toContain("(100002 characters in all)");
    expect(huge).toContain('`web1` | update in place | `tags.k`: `"a"` → `"0.0.0.0/0"`');
    const many = previewSummary({ steps: Array.from({ length: 2000 }, (_, i) => step(i, "b")) }, new Map(), "s");
    expect(many.length).toBeLessThan(65_536);
    const listed = many.split("\n").filter((line) => line.startsWith("| Sandbox")).length;
    expect(many).toContain(`and ${String(2000 - listed)} more resources that change`);
  });
});
