import { describe, expect, it } from "vitest";
import { rawInstructionProblem } from "../../provider/runtime/images/dockerfile-lines.ts";
import { dockerfileFor, type ImageStep } from "../../provider/runtime/images/image-recipe.ts";

/**
 * The instructions of a Dockerfile as Docker's parser splits them: parser
 * directives at the top, comments and blank lines skipped, a line ending in
 * the escape character (and spaces or tabs) joined with the next.
 */
function instructions(dockerfile: string): string[] {
  const lines = dockerfile.split("\n");
  let escape = "\\";
  while (/^#\s*\w+\s*=/.test(lines[0] ?? "")) {
    const directive = /^#\s*escape\s*=\s*(\S)/i.exec(lines.shift() ?? "");
    if (directive?.[1]) escape = directive[1];
  }
  const found: string[] = [];
  let current = "";
  for (const line of lines) {
    if (/^\s*#/.test(line) || (current === "" && line.trim() === "")) continue;
    const trimmed = line.replace(/[ \t]+$/, "");
    if (trimmed.endsWith(escape)) current += trimmed.slice(0, -1);
    else {
      found.push(current + line);
      current = "";
    }
  }
  if (current) found.push(current);
  return found;
}

/** A small deterministic generator, so that a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe("a raw step is one Dockerfile line that reaches no other", () => {
  it("starts the Dockerfile by pinning the escape character, then FROM, then one line per step", () => {
    const steps: ImageStep[] = [{ dockerfile: "  run true" }, { run: "true \\" }, { user: "sandbox" }];
    expect(dockerfileFor("sandfleet/busybox", steps)).toBe(
      '# escape=\\\nFROM sandfleet/busybox\nrun true\nRUN ["/bin/sh","-c","true \\\\"]\nUSER sandbox\n',
    );
  });

  it("whatever a step holds, if it is accepted the user step after it stays an instruction of its own", () => {
    const pieces = [
      "RUN",
      "run",
      "LABEL",
      "ENV",
      "COPY",
      "FROM",
      "From",
      " ",
      "\u00a0",
      "\\",
      "`",
      "<<",
      "<<-",
      "EOF",
      "'",
      '"',
      "#",
      "$",
      "=",
      "x",
      "a=b",
      "--from=",
      "sandfleet/busybox",
      "\t",
      "\r",
      "\n",
    ];
    const next = random(20261205);
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const parts = Array.from(
        { length: 1 + Math.floor(next() * 6) },
        () => pieces[Math.floor(next() * pieces.length)],
      );
      const line = parts.join("");
      if (rawInstructionProblem(line) !== undefined) continue;
      accepted += 1;
      const found = instructions(dockerfileFor("sandfleet/busybox", [{ dockerfile: line }, { user: "sandbox" }]));
      expect([line, found.length, found.at(-1)]).toEqual([line, 3, "USER sandbox"]);
      expect(found[1]?.trim().split(" ")[0]?.toUpperCase()).not.toBe("FROM");
    }
    expect(accepted).toBeGreaterThan(100);
  });
});
