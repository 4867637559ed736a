import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseEgressEntry } from "../../provider/egress-entries.ts";

interface Vectors {
  accepted: { entry: string; kind: string; canonical: string }[];
  refused: { entry: string; why: string }[];
}

// The same vectors test the daemon's parser (supervisor/egress/entries_test.go): one grammar, two parsers.
const vectors = JSON.parse(
  readFileSync(new URL("../../supervisor/testdata/addresses.json", import.meta.url), "utf8"),
) as Vectors;

describe("egress allowlist entries, against the vectors the daemon is tested with", () => {
  it.each(vectors.accepted)("accepts $entry", ({ entry, kind, canonical }) => {
    const parsed = parseEgressEntry(entry);
    expect(parsed).toMatchObject({ kind, canonical });
  });
  it.each(vectors.refused)("refuses $entry", ({ entry, why }) => {
    const parsed = parseEgressEntry(entry);
    expect("problem" in parsed ? parsed.problem : "accepted").toContain(why);
  });
});
