import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandbox } from "../../provider/client/sandbox.ts";
import { cleanupApp, leftovers, NOTHING } from "../support/engine.ts";
import { exampleStack as exampleStackOn } from "../support/example-stack.ts";

const exampleStack = (example: string) => exampleStackOn(example, cleanupApp);

describe("the snapshot-pool example, with the real pulumi CLI", () => {
  const example = exampleStack("snapshot-pool");
  beforeAll(() => example.init());
  afterAll(() => example.dispose());

  it("starts every pool member from the seed's snapshot", async () => {
    await example.stack.run(["up", "--yes", "--skip-preview"]);
    const member = await Sandbox.claim(example.app, "workers");
    expect(await member.files.readText("/home/sandbox/state.json")).toBe('{"primes": [2, 3, 5, 7, 11]}');
    await example.stack.run(["destroy", "--yes", "--skip-preview"]);
    expect(await leftovers(example.app)).toEqual(NOTHING);
  });
});
