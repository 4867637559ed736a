import { readdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { failureOf } from "../../provider/runtime/supervisor/connection.ts";
import { encodeFrame, FrameParser, jsonPayload, parsePayload } from "../../provider/runtime/supervisor/frames.ts";
import { FRAME, OP, type SupervisorRequest } from "../../provider/runtime/supervisor/protocol.ts";
import { GENERATED, readDeclaration, renderProtocol } from "../../scripts/supervisor-protocol.ts";

const declaration = readDeclaration();

// The vectors the supervisor's Go tests read too (supervisor/protocol/vectors_test.go).
const shared = JSON.parse(readFileSync(new URL("../../supervisor/protocol/vectors.json", import.meta.url), "utf8")) as {
  requests: { channel: number; request: SupervisorRequest; wire: string }[];
  replies: {
    kind: keyof typeof FRAME;
    message: string;
    channel: number;
    reply: Record<string, unknown>;
    wire: string;
    line?: boolean;
  }[];
};

describe("the supervisor protocol's TypeScript side", () => {
  it("is generated from the declaration as it stands (else: node scripts/supervisor-protocol.ts)", async () => {
    expect(readFileSync(GENERATED, "utf8")).toBe(await renderProtocol(declaration));
  });

  it("names every frame kind and operation as declared", () => {
    expect(FRAME).toEqual(Object.fromEntries(Object.entries(declaration.frames).map(([name, f]) => [name, f.byte])));
    expect(Object.values(OP)).toEqual(Object.keys(declaration.ops));
  });
});

describe("requests, against the shared vectors", () => {
  it.each(shared.requests)("$request.op: only declared fields, the required ones all there", ({ request }) => {
    const fields = declaration.ops[request.op]?.fields;
    expect(fields, `op ${request.op} is not declared`).toBeDefined();
    const given = Object.keys(request).filter((name) => name !== "op");
    expect(given.filter((name) => !(name in (fields ?? {})))).toEqual([]);
    const required = Object.entries(fields ?? {}).filter(([, type]) => !type.endsWith("?"));
    expect(required.map(([name]) => name).filter((name) => !given.includes(name))).toEqual([]);
  });

  it.each(shared.requests)("$request.op: opens its channel with the vector's bytes", ({ channel, request, wire }) => {
    expect(encodeFrame(FRAME.open, channel, jsonPayload(request)).toString("hex")).toBe(wire);
  });

  it("cover every operation", () => {
    expect(new Set(shared.requests.map(({ request }) => request.op))).toEqual(new Set(Object.keys(declaration.ops)));
  });
});

describe("replies, against the shared vectors", () => {
  it.each(shared.replies)("$message on $kind: read back as the supervisor made it", (v) => {
    const [frame, ...more] = new FrameParser().push(Buffer.from(v.wire, "hex"));
    expect(more).toEqual([]);
    expect(frame?.kind).toBe(FRAME[v.kind]);
    expect(frame?.channel).toBe(v.channel);
    const payload = frame?.payload ?? Buffer.alloc(0);
    if (v.line) {
      expect(payload.toString("utf8").endsWith("\n")).toBe(true);
      expect(JSON.parse(payload.toString("utf8"))).toEqual(v.reply);
    } else expect(parsePayload(payload)).toEqual(v.reply);
    if (v.kind === "failure") {
      const failure = failureOf(payload);
      expect({ code: failure.code, message: failure.message }).toEqual(v.reply);
    }
  });

  it("cover every message an operation ends with", () => {
    const ends = Object.values(declaration.ops).map((op) => op.done ?? op.exit);
    expect(ends.filter((message) => !shared.replies.some((v) => v.message === message))).toEqual([]);
  });
});

// The operations' names and the frame kinds' bytes are written in protocol.ts alone: everywhere
// else they are OP.x and FRAME.x, so that the compiler checks each request against its type.
const provider = new URL("../../provider", import.meta.url).pathname;
const GENERATED_FILE = relative(provider, GENERATED.pathname);
const OP_NAMES = new Set(Object.keys(declaration.ops));
const FRAME_BYTES = new Set(Object.values(declaration.frames).map((frame) => frame.byte));

/** Where a file writes what only protocol.ts may; `speaksProtocol` for a file that talks to the supervisor. */
function protocolLiterals(file: string, source: string, speaksProtocol: boolean): string[] {
  const found: string[] = [];
  const at = (node: ts.Node, what: string) => {
    const { line } = sf.getLineAndCharacterOfPosition(node.getStart(sf));
    found.push(`${file}:${String(line + 1)}: ${what}`);
  };
  const literal = (node: ts.Node | undefined): string | undefined =>
    node && (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) ? node.text : undefined;
  const propertyName = (name: ts.PropertyName) =>
    ts.isIdentifier(name) || ts.isStringLiteral(name) ? name.text : undefined;
  const isOpAccess = (node: ts.Node) =>
    (ts.isPropertyAccessExpression(node) && node.name.text === "op") ||
    (ts.isElementAccessExpression(node) && literal(node.argumentExpression) === "op");
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAssignment(node) && propertyName(node.name) === "op") {
      const text = literal(node.initializer);
      if (text !== undefined && (speaksProtocol || OP_NAMES.has(text))) at(node, `op "${text}" written out`);
    }
    if (ts.isBinaryExpression(node) && (isOpAccess(node.left) || isOpAccess(node.right))) {
      const text = literal(node.left) ?? literal(node.right);
      if (text !== undefined && OP_NAMES.has(text)) at(node, `op "${text}" compared written out`);
    }
    if (ts.isSwitchStatement(node) && isOpAccess(node.expression)) {
      for (const clause of node.caseBlock.clauses) {
        const text = ts.isCaseClause(clause) ? literal(clause.expression) : undefined;
        if (text !== undefined && OP_NAMES.has(text)) at(clause, `op "${text}" compared written out`);
      }
    }
    if (speaksProtocol) {
      const text = literal(node);
      if (text !== undefined && FRAME_BYTES.has(text)) at(node, `frame kind "${text}" written out`);
      if (
        ts.isTypeReferenceNode(node) &&
        node.typeName.getText(sf) === "Record" &&
        node.typeArguments?.map((argument) => argument.getText(sf)).join(",") === "string,unknown"
      ) {
        at(node, "an untyped Record<string, unknown>");
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

describe("the protocol's names in the source", () => {
  const files = readdirSync(provider, { recursive: true, encoding: "utf8" })
    .filter((file) => /\.tsx?$/.test(file) && !file.split(sep).includes("node_modules") && file !== GENERATED_FILE)
    .map((file) => ({ file, source: readFileSync(join(provider, file), "utf8") }));
  // The files of the supervisor's client, and those that hold a connection or write its frames.
  const speaks = ({ file, source }: { file: string; source: string }) =>
    file.startsWith(`runtime${sep}supervisor${sep}`) ||
    /from "[./]*supervisor\/(connection|connections|frames|protocol)\.ts"/.test(source);

  it("are found where they are written out", () => {
    const sample = [
      `await connection.call({ op: "stat", path });`,
      `if (request.op === "exec") {}`,
      `switch (request.op) { case "watch": break; }`,
      `connection.send("e", channel);`,
      `function open(request: Record<string, unknown>) {}`,
      `daemon({ op: "sync" });`,
      `call({ "op": \`touch\` }); if (request["op"] !== "ping") {}`,
    ].join("\n");
    expect(protocolLiterals("probe.ts", sample, true)).toEqual([
      `probe.ts:1: op "stat" written out`,
      `probe.ts:2: op "exec" compared written out`,
      `probe.ts:3: op "watch" compared written out`,
      `probe.ts:4: frame kind "e" written out`,
      `probe.ts:5: an untyped Record<string, unknown>`,
      `probe.ts:6: op "sync" written out`,
      `probe.ts:7: op "touch" written out`,
      `probe.ts:7: op "ping" compared written out`,
    ]);
    // Another daemon's own operations are its business, in a file that does not talk to the supervisor.
    expect(protocolLiterals("probe.ts", `daemon({ op: "sync" });`, false)).toEqual([]);
  });

  it("read the source of the supervisor's client and its users", () => {
    expect(files.filter(speaks).map(({ file }) => file)).toEqual(
      expect.arrayContaining([join("runtime", "supervisor", "files.ts"), join("runtime", "sandboxes", "lifetime.ts")]),
    );
  });

  it("are written in protocol.ts alone", () => {
    // Parsed are the files that talk to the supervisor, and any other that has a property named op.
    const parsed = files.filter((f) => speaks(f) || /\bop\b/.test(f.source));
    expect(parsed.flatMap((f) => protocolLiterals(f.file, f.source, speaks(f)))).toEqual([]);
  });
});
