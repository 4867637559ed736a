import { describe, expect, it } from "vitest";
import { EngineError, EngineUnavailableError } from "../../provider/errors.ts";
import { drainPool, listMembers, reconcilePool } from "../../provider/runtime/pools/pool.ts";
import { memoryFleet, recordedPool } from "../support/memory-fleet.ts";

describe("draining a pool (its destroy)", () => {
  it("removes every member it can, and names each one the engine left half-done, not only the first", async () => {
    const { clock, docker } = memoryFleet();
    const pool = await recordedPool(docker, { replicas: 6 });
    await reconcilePool(docker, pool, { clock });
    const members = await listMembers(docker, pool.app, pool.name);
    const stuck = new Set(members.slice(0, 2).map((m) => m.id));
    const remove = docker.containers.remove.bind(docker.containers);
    docker.containers.remove = async (id) => {
      if (stuck.has(id)) throw new EngineError(`container ${id} is stuck in removal on the engine`);
      await remove(id);
    };
    const drained = drainPool(docker, pool.app, pool.name);
    await expect(drained).rejects.toBeInstanceOf(EngineError);
    const message = await drained.catch((error: unknown) => (error as Error).message);
    expect(message).toContain(`2 of pool ${pool.app}/${pool.name}'s 6 members were not removed`);
    for (const m of members.slice(0, 2)) expect(message).toContain(m.containerName);
    // The others went all the same; a second drain, once the engine has finished, removes the rest.
    expect((await listMembers(docker, pool.app, pool.name)).map((m) => m.id).sort()).toEqual([...stuck].sort());
    stuck.clear();
    await drainPool(docker, pool.app, pool.name);
    expect(await listMembers(docker, pool.app, pool.name)).toEqual([]);
  });

  it("fails with the engine's own words when the engine is unreachable", async () => {
    const { clock, docker } = memoryFleet();
    const pool = await recordedPool(docker, { replicas: 3 });
    await reconcilePool(docker, pool, { clock });
    docker.containers.remove = () =>
      Promise.reject(new EngineUnavailableError("the engine at memory:// is unreachable"));
    await expect(drainPool(docker, pool.app, pool.name)).rejects.toThrow("the engine at memory:// is unreachable");
  });
});
