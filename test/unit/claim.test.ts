import { describe, expect, it } from "vitest";
import type { Engine } from "../../provider/engines/port.ts";
import { ConflictError, EngineUnavailableError, PoolExhaustedError } from "../../provider/errors.ts";
import { claimMember, memberName } from "../../provider/runtime/pools/pool.ts";

/** One warm member whose rename fails as given; a fake of the two calls a claim makes. */
function engineWhoseRenameFails(error: Error): Engine {
  const warm = {
    id: "c1",
    name: memberName("demo", "web", "w", "1a2b3c4d"),
    labels: {},
    status: "running",
    createdMs: 0,
    ports: {},
  };
  return {
    host: "unix:///fake.sock",
    containers: {
      list: () => Promise.resolve([warm]),
      rename: () => Promise.reject(error),
    },
    volumes: { inspect: () => Promise.resolve({ name: "record", labels: {} }) },
  } as unknown as Engine;
}

describe("a claim", () => {
  it("treats a name conflict as another claimer's win, and finds the pool exhausted", async () => {
    const docker = engineWhoseRenameFails(new ConflictError("name in use"));
    await expect(claimMember(docker, "demo", "web")).rejects.toBeInstanceOf(PoolExhaustedError);
  });

  it("lets any other engine error through as it is, never as an exhausted pool", async () => {
    const lost = new EngineUnavailableError(
      "rename container c1: the Docker engine at unix:///fake.sock is unreachable",
    );
    await expect(claimMember(engineWhoseRenameFails(lost), "demo", "web")).rejects.toBe(lost);
  });
});
