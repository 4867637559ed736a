import type { PauseResult } from "../provider/runtime/sandboxes/pause.ts";
import { Sandbox } from "../provider/client/sandbox.ts";
import { cleanupApp } from "../test/support/engine.ts";
import { docker, medianMs, type Figure } from "./measure.ts";
import { benchApp } from "./scenarios.ts";

const GIB = 1024 ** 3;

/** A process that holds 1 GiB of touched memory: what a pause must keep. */
const HOLD_ONE_GIB = [
  "python3",
  "-c",
  "b = bytearray(1024 ** 3)\nfor i in range(0, len(b), 4096): b[i] = 1\nprint('held', flush=True)\nimport time\ntime.sleep(1e9)",
];

/** 8. Pause and resume of a sandbox holding 1 GiB, against `docker pause` and E2B's published times. */
export async function lifecycle(runs: number): Promise<Figure[]> {
  const app = benchApp();
  const sandbox = await Sandbox.create({ app, image: "sandfleet/python", memoryMiB: 1536, command: HOLD_ONE_GIB });
  for (let i = 0; i < 300 && (await sandbox.metrics()).memoryBytes < GIB; i++)
    await new Promise((resolve) => setTimeout(resolve, 100));
  const heldGiB = (await sandbox.metrics()).memoryBytes / GIB;

  const resumeTimes: number[] = [];
  const pauseAndResume = await medianMs(runs, 1, async () => {
    await sandbox.pause();
    const started = performance.now();
    await sandbox.resume();
    resumeTimes.push(performance.now() - started);
  });
  // medianMs timed pause + resume together; the resumes were timed on their own.
  resumeTimes.sort((a, b) => a - b);
  const resumeMs = resumeTimes[Math.floor(resumeTimes.length / 2)] ?? 0;
  const pauseMs = pauseAndResume - resumeMs;

  const rawPause: number[] = [];
  const rawResume = await medianMs(runs, 1, async () => {
    const started = performance.now();
    await docker("pause", sandbox.id);
    rawPause.push(performance.now() - started);
    await docker("unpause", sandbox.id);
  });
  rawPause.sort((a, b) => a - b);
  const dockerPause = rawPause[Math.floor(rawPause.length / 2)] ?? 0;

  // What a user feels: an exec sent to a paused sandbox, which resumes it by itself.
  const autoResume = await medianMs(runs, 1, async () => {
    await sandbox.pause();
    await sandbox.run(["true"]);
  });
  let checkpoint: PauseResult = { mode: "freezer" };
  const checkpointAttempt = await medianMs(3, 0, async () => {
    checkpoint = await sandbox.pause({ checkpoint: true });
    await sandbox.resume();
  });
  await cleanupApp(app);
  const gib = `a sandbox holding ${heldGiB.toFixed(2)} GiB`;
  return [
    {
      name: `pause (freezer) of ${gib}`,
      value: pauseMs,
      unit: "ms",
      baselineName: "docker pause (CLI)",
      baseline: dockerPause,
      note: "E2B publishes ~4 s per GiB to pause (memory to disk); the freezer keeps memory where it is",
    },
    {
      name: `resume of ${gib}`,
      value: resumeMs,
      unit: "ms",
      baselineName: "docker unpause (CLI) after docker pause",
      baseline: rawResume - dockerPause,
      note: "E2B publishes ~1 s to resume",
    },
    {
      name: "exec on a paused sandbox, resumed by itself",
      value: autoResume - pauseMs,
      unit: "ms",
      note: "the client notices a silent channel after 40 ms, then resumes it",
    },
    {
      name: `pause with a checkpoint to disk (CRIU), and resume, of ${gib}`,
      value: checkpointAttempt,
      unit: "ms",
      note:
        checkpoint.mode === "checkpoint"
          ? "checkpointed"
          : `no checkpoint on this engine, so the freezer paused it: ${checkpoint.checkpointError ?? ""}`,
    },
  ];
}
