import { hostname } from "node:os";
import type { PoolParams, PoolTemplate } from "../../provider/runtime/pools/pool.ts";
import { writePoolRecord } from "../../provider/runtime/pools/pool.ts";
import { FakeClock } from "./fake-clock.ts";
import { MemoryEngine, type MemoryEngineOptions } from "./memory-engine.ts";

/** An in-memory engine on a fake clock: what a unit test of the runtime starts from. */
export function memoryFleet(options: Omit<MemoryEngineOptions, "clock"> = {}): {
  clock: FakeClock;
  docker: MemoryEngine;
} {
  const clock = new FakeClock();
  return { clock, docker: new MemoryEngine({ ...options, clock }) };
}

/** A sandbox the in-memory engine can make: no supervisor (it runs no process), nothing it cannot do. */
export const MEMORY_TEMPLATE: PoolTemplate = { image: "sandfleet/busybox", supervisor: false };

/** A pool of the in-memory engine, recorded on it as `up` records one. */
export async function recordedPool(
  docker: MemoryEngine,
  params: Partial<Omit<PoolParams, "template">> & { template?: Partial<PoolTemplate> } = {},
): Promise<PoolParams> {
  const pool: PoolParams = {
    app: "demo",
    name: "web",
    replicas: 2,
    ...params,
    template: { ...MEMORY_TEMPLATE, ...params.template },
  };
  await writePoolRecord(docker, pool);
  return pool;
}

/** A maker label of a process on another host: this host cannot tell whether it still runs. */
export const MAKER_ELSEWHERE = "another-host:4242:1";

/** A maker label of a process of this host that has ended (no such pid). */
export const MAKER_GONE = `${hostname()}:999999999:1`;
