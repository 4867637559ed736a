import { readdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { dockerCapabilities, type DockerFacts } from "../../provider/engines/docker/capabilities.ts";
import { KUBERNETES_CAPABILITIES } from "../../provider/engines/kubernetes/capabilities.ts";
import type { Engine, EngineCapabilities } from "../../provider/engines/port.ts";
import { InvalidArgumentError } from "../../provider/errors.ts";
import { createSandbox } from "../../provider/runtime/sandboxes/sandbox-ops.ts";
import { MEMORY_CAPABILITIES, MemoryEngine } from "../support/memory-engine.ts";
import { MEMORY_TEMPLATE } from "../support/memory-fleet.ts";

const provider = new URL("../../provider", import.meta.url).pathname;
const ENGINE_NAMES = new Set(["docker", "kubernetes", "memory"]);

/**
 * Where code above the engines asks which engine it speaks to: a comparison
 * with an engine's name, a `case` of one, or the `kind` of an engine's info
 * read at all. Each should ask a capability instead.
 */
function engineKindQuestions(name: string, text: string): string[] {
  const source = ts.createSourceFile(name, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const at = (node: ts.Node) =>
    `${name}:${String(source.getLineAndCharacterOfPosition(node.getStart()).line + 1)}: ${node.getText()}`;
  const isEngineName = (node: ts.Node) => ts.isStringLiteralLike(node) && ENGINE_NAMES.has(node.text);
  const fromInfo = (node: ts.Node) => /info/i.test(node.getText());
  const visit = (node: ts.Node): void => {
    if (ts.isBinaryExpression(node)) {
      const op = node.operatorToken.kind;
      const comparing = [
        ts.SyntaxKind.EqualsEqualsEqualsToken,
        ts.SyntaxKind.ExclamationEqualsEqualsToken,
        ts.SyntaxKind.EqualsEqualsToken,
        ts.SyntaxKind.ExclamationEqualsToken,
      ].includes(op);
      if (comparing && (isEngineName(node.left) || isEngineName(node.right))) found.push(at(node));
    }
    if (ts.isCaseClause(node) && isEngineName(node.expression)) found.push(at(node));
    if (ts.isPropertyAccessExpression(node) && node.name.text === "kind" && fromInfo(node.expression)) {
      found.push(at(node));
    }
    if (
      ts.isVariableDeclaration(node) &&
      ts.isObjectBindingPattern(node.name) &&
      node.initializer &&
      fromInfo(node.initializer) &&
      node.name.elements.some((e) => (e.propertyName ?? e.name).getText() === "kind")
    ) {
      found.push(at(node));
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe("engine capabilities", () => {
  it("are what code above the engines asks: it never asks which engine it speaks to", () => {
    const files = readdirSync(provider, { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".ts") && f.split(sep)[0] !== "engines")
      .map((f) => join(provider, f));
    expect(files.length).toBeGreaterThan(100);
    // Only a file that names an engine or an engine's info can ask: the others are not parsed.
    const texts = files.map((f) => ({ name: relative(provider, f), text: readFileSync(f, "utf8") }));
    // Named, not asked: the dashboard's header says which engine it shows, and decides nothing by it.
    const namesOnly = new Set([join("serve", "dashboard-model.ts")]);
    const suspects = texts.filter(
      ({ name, text }) => !namesOnly.has(name) && /["'`](docker|kubernetes|memory)["'`]|info/i.test(text),
    );
    expect(suspects.flatMap(({ name, text }) => engineKindQuestions(name, text))).toEqual([]);
  });

  it("the check finds each way of asking", () => {
    const questions = [
      `if ((await docker.info()).kind === "kubernetes") {}`,
      `if (engine !== "docker") {}`,
      `switch (x) { case "kubernetes": break; }`,
      `const { apiVersion, kind } = await docker.info();`,
      `const k = info.kind;`,
      `const k = engineInfo.kind;`,
    ];
    expect(questions.filter((q) => engineKindQuestions("probe.ts", q).length === 0)).toEqual([]);
    expect(engineKindQuestions("probe.ts", `if (frame.kind === FRAME.exit && event.kind === "ended") {}`)).toEqual([]);
  });

  it("are reported in full by every engine", () => {
    const docker = dockerCapabilities(facts({}));
    const keys = (c: EngineCapabilities) => Object.keys(c).sort();
    expect(keys(KUBERNETES_CAPABILITIES)).toEqual(keys(docker));
    expect(keys(MEMORY_CAPABILITIES)).toEqual(keys(docker));
  });

  it("on Docker follow what the engine said of itself: its storage, its API version, its experimental features", () => {
    expect(dockerCapabilities(facts({ storageDriver: "btrfs" })).diskBound).toEqual({ supported: true });
    expect(dockerCapabilities(facts({ storageDriver: "overlay2", backingFilesystem: "xfs" })).diskBound.supported).toBe(
      true,
    );
    expect(dockerCapabilities(facts({ storageDriver: "overlay2", backingFilesystem: "extfs" })).diskBound).toEqual({
      supported: false,
      why: expect.stringContaining(
        "stores containers with overlay2 on extfs, which cannot bound a container's disk",
      ) as unknown,
    });
    expect(dockerCapabilities(facts({ apiVersion: "1.45" })).subPathMounts.supported).toBe(true);
    expect(dockerCapabilities(facts({ apiVersion: "1.41" })).subPathMounts).toEqual({
      supported: false,
      why: "needs an engine that speaks Engine API 1.45 (Docker 26) or newer; the engine at unix:///x.sock speaks 1.41",
    });
    expect(dockerCapabilities(facts({})).checkpoint).toEqual({ supported: true });
    expect(dockerCapabilities(facts({ experimental: false })).checkpoint).toEqual({
      supported: false,
      why: "the Docker engine at unix:///x.sock runs without experimental features, which its checkpoint API needs",
    });
    // Experimental, but nothing says a CRIU works there: not asked, since a failed dump says so only after trying.
    expect(dockerCapabilities(facts({ criu: undefined })).checkpoint).toEqual({
      supported: false,
      why: expect.stringContaining("has no CRIU known to work on its host") as unknown,
    });
    expect(dockerCapabilities(facts({ local: false })).hostChannel.supported).toBe(false);
  });

  it("decide what a sandbox may ask for, whatever the engine calls itself", async () => {
    const memory = new MemoryEngine();
    // The engine's name says nothing: the same engine, calling itself Docker, refuses the same.
    const calledDocker: Engine = Object.assign(Object.create(memory) as MemoryEngine, {
      info: async () => ({ ...(await memory.info()), kind: "docker" }),
    });
    for (const docker of [memory, calledDocker]) {
      const sandbox = { ...MEMORY_TEMPLATE, app: "demo" };
      await expect(createSandbox(docker, { ...sandbox, egress: { allow: ["example.com"] } })).rejects.toThrow(
        new InvalidArgumentError(
          "invalid sandbox: egress: an egress allowlist is not supported by the in-memory engine",
        ),
      );
      await memory.volumes.create({ name: "data", labels: {} });
      await expect(
        createSandbox(docker, { ...sandbox, volumes: [{ volume: "data", mountPath: "/data", subPath: "a" }] }),
      ).rejects.toThrow('invalid sandbox: volumes: subPath "a" mounting part of a volume is not supported');
      await expect(createSandbox(docker, { ...sandbox, diskMiB: 100 })).rejects.toThrow(
        "invalid sandbox: diskMiB: a disk bound is not supported by the in-memory engine",
      );
    }
    expect(memory.names()).toEqual([]);
  });
});

function facts(overrides: Partial<DockerFacts>): DockerFacts {
  return {
    host: "unix:///x.sock",
    apiVersion: "1.45",
    storageDriver: "btrfs",
    backingFilesystem: "btrfs",
    experimental: true,
    criu: "4.1.1-1",
    local: true,
    ...overrides,
  };
}
