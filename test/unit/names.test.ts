import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { APP_BRIDGE_PREFIX } from "../../provider/rules.ts";
import {
  appBridgeName,
  containerName,
  imageRepository,
  objectName,
  parseObjectName,
  volumeName,
  type NamedKind,
} from "../../provider/runtime/engine-state/names.ts";
import { claimRecordName, memberName, poolRecordName } from "../../provider/runtime/pools/pool.ts";

const KINDS: NamedKind[] = ["sandbox", "member", "volume", "pool", "claim"];
// Names made of the characters that make joining ambiguous.
const PARTS = ["a", "b", "a-b", "b-c", "a.b", "a_b", "1-2", "c", "pool-web", "web", "web-w-1a2b3c4d", "x-"];

describe("Docker names of sandfleet objects", () => {
  it("never give one Docker name to two (kind, app, name)", () => {
    const seen = new Map<string, string>();
    for (const kind of KINDS) {
      for (const app of PARTS) {
        for (const name of PARTS) {
          const docker = objectName(kind, app, name);
          const triple = JSON.stringify([kind, app, name]);
          expect(seen.get(docker) ?? triple).toBe(triple);
          seen.set(docker, triple);
          expect(parseObjectName(docker)).toEqual({ kind, app, name });
        }
      }
    }
  });

  it("keep apart what joining with '-' confused", () => {
    expect(containerName("a-b", "c")).not.toBe(containerName("a", "b-c"));
    // A volume named like a pool's record, a sandbox named like a pool member.
    expect(volumeName("demo", "pool-web")).not.toBe(poolRecordName("demo", "web"));
    expect(containerName("demo", "web-w-1a2b3c4d")).not.toBe(memberName("demo", "web", "w", "1a2b3c4d"));
    expect(claimRecordName("demo", "web", "1a2b3c4d")).not.toBe(volumeName("demo", "web-1a2b3c4d"));
  });

  it("are valid Docker names", () => {
    for (const kind of KINDS) expect(objectName(kind, "My.App_1", "x-y")).toMatch(/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/);
  });

  it("give apps and images that differ only in case two repositories", () => {
    expect(imageRepository("demo", "tools")).toBe("sandfleet/demo/tools");
    expect(imageRepository("demo", "Tools")).not.toBe(imageRepository("demo", "tools"));
    expect(imageRepository("Demo", "tools")).not.toBe(imageRepository("demo", "Tools"));
    expect(imageRepository("Demo", "tools")).toMatch(/^[a-z0-9/._-]+$/);
  });

  it("refuse what sandfleet did not make", () => {
    expect(parseObjectName("sandfleet-demo-web")).toBeUndefined();
    expect(parseObjectName("sandfleet-sb-10-demo-web")).toBeUndefined();
    expect(parseObjectName("nginx")).toBeUndefined();
  });
});

describe("app network bridges", () => {
  const vectors = JSON.parse(
    readFileSync(new URL("../../supervisor/testdata/guard.json", import.meta.url), "utf8"),
  ) as { localPrefix: string; internetPrefix: string; bridges: { app: string; internet: boolean; bridge: string }[] };

  it("start as the engine host's guard expects (the vectors the egress daemon's tests read)", () => {
    expect(APP_BRIDGE_PREFIX).toEqual({ local: vectors.localPrefix, internet: vectors.internetPrefix });
    for (const { app, internet, bridge } of vectors.bridges) expect(appBridgeName(app, internet)).toBe(bridge);
  });

  it("fit the kernel's 15 bytes, and differ by app and by reach", () => {
    const names = new Set<string>();
    for (const app of PARTS) {
      for (const internet of [false, true]) {
        const bridge = appBridgeName(app, internet);
        expect(bridge).toMatch(/^sf[li]-[0-9a-f]{11}$/);
        names.add(bridge);
      }
    }
    expect(names.size).toBe(PARTS.length * 2);
  });
});
