import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { egressTables, LEGACY_EGRESS_TABLES } from "../../provider/runtime/networks/egress-tables.ts";

describe("each engine's egress tables", () => {
  const vectors = JSON.parse(
    readFileSync(new URL("../../supervisor/testdata/tables.json", import.meta.url), "utf8"),
  ) as {
    guardPrefix: string;
    egressPrefix: string;
    legacy: { guard: string; egress: string };
    engines: { dataRoot: string; engineKey: string; guard: string; egress: string }[];
  };

  it("are named as the egress daemon names them (the vectors its tests read)", () => {
    expect(LEGACY_EGRESS_TABLES).toEqual(vectors.legacy);
    expect({ guard: vectors.guardPrefix, egress: vectors.egressPrefix }).toEqual(vectors.legacy);
    for (const { dataRoot, ...names } of vectors.engines) expect(egressTables(dataRoot)).toEqual(names);
  });

  it("differ between engines of one host, stay far inside nft's 256 bytes, and never take a legacy name", () => {
    const roots = [
      "/var/lib/docker",
      "/var/lib/docker/",
      "/srv/docker",
      "/tmp/sfe-1/data",
      "/tmp/sfe-2/data",
      "x".repeat(4096),
    ];
    const names = roots.map((root) => egressTables(root));
    expect(new Set(names.map((n) => n.guard)).size).toBe(roots.length);
    for (const { engineKey, guard, egress } of names) {
      expect(engineKey).toMatch(/^[0-9a-f]{12}$/);
      expect(guard.length).toBeLessThan(64);
      expect(egress.length).toBeLessThan(64);
      expect([guard, egress]).not.toContain(LEGACY_EGRESS_TABLES.guard);
      expect([guard, egress]).not.toContain(LEGACY_EGRESS_TABLES.egress);
    }
  });
});
