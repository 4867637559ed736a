// Checkpoints to disk (CRIU) and restores, on the current Docker Engine the
// bootstrap runs beside the main one: the main engine (20.10) cannot make them.
import { Sandfleet } from "../provider/index.ts";
import { currentEngineHost } from "../test/support/current-engine.ts";
import { median, type Figure } from "./measure.ts";
import { benchApp } from "./scenarios.ts";

const GIB = 1024 ** 3;

/** A process that holds 1 GiB of memory, every page written: what a checkpoint must write out. */
const HOLD_ONE_GIB = [
  "python3",
  "-c",
  "b = bytearray(1024 ** 3)\nfor i in range(0, len(b), 4096): b[i] = 1\nimport time\ntime.sleep(1e9)",
];

/** 9. Checkpoint (memory to disk, stopped) and restore of a sandbox holding 1 GiB, per GiB, against E2B's published times. */
export async function checkpointRestore(runs: number): Promise<Figure[]> {
  const dockerHost = currentEngineHost();
  const sandfleet = new Sandfleet({ dockerHost });
  const app = benchApp();
  {
    // Removed when the block ends, however it ends.
    await using sandbox = await sandfleet.sandboxes.create({
      app,
      image: "sandfleet/python",
      memoryMiB: 1536,
      command: HOLD_ONE_GIB,
    });
    for (let i = 0; i < 300 && (await sandbox.metrics()).memoryBytes < GIB; i++)
      await new Promise((resolve) => setTimeout(resolve, 100));
    const heldGiB = (await sandbox.metrics()).memoryBytes / GIB;
    const checkpoints: number[] = [];
    const restores: number[] = [];
    for (let i = 0; i < runs; i++) {
      let started = performance.now();
      const result = await sandbox.pause({ checkpoint: true });
      if (result.mode !== "checkpoint")
        throw new Error(`no checkpoint on ${dockerHost}: ${result.checkpointError ?? ""}`);
      checkpoints.push(performance.now() - started);
      started = performance.now();
      await sandbox.resume();
      restores.push(performance.now() - started);
    }
    const gib = `a sandbox holding ${heldGiB.toFixed(2)} GiB, per GiB`;
    return [
      {
        name: `checkpoint to disk (CRIU, stopped) of ${gib}`,
        value: median(checkpoints) / heldGiB,
        unit: "ms",
        note: `Docker 29 beside the main engine (${dockerHost}); E2B publishes ~4 s per GiB to pause`,
      },
      {
        name: `restore from disk of ${gib}`,
        value: median(restores) / heldGiB,
        unit: "ms",
        note: "E2B publishes ~1 s to resume",
      },
    ];
  }
}
