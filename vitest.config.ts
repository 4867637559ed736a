import { defineConfig } from "vitest/config";
import { currentEngineHost } from "./test/support/current-engine.ts";

// Projects, split by what they need: unit (nothing), integration (a real
// Docker engine), e2e (the real pulumi CLI and a real engine), and scale (a
// drill of its own, minutes long: `npm run test:scale`, never in `npm test`).
const KUBERNETES_FAULTS = "test/parity/kubernetes-faults.test.ts";
// What differs by the Docker engine's version, run once more on the current engine beside the main
// one (Docker 29, experimental, with CRIU): subPath mounts, checkpoints, the Modal behaviours and the
// Docker side of the parity suite.
const ON_CURRENT_ENGINE = [
  "test/current-engine/**/*.test.ts",
  "test/integration/modal-parity.test.ts",
  "test/integration/checkpoint.test.ts",
  "test/parity/parity.test.ts",
];
const PARITY_SETUP = [
  "test/support/require-engine.ts",
  "test/support/require-pulumi.ts",
  "test/support/require-build.ts",
  "test/support/cluster.ts",
];

export default defineConfig({
  // Vitest keeps each file's last duration in its cache and starts the longest first. `npm test`
  // keeps that cache beside the machine's other caches, so that a clean clone keeps the order.
  ...(process.env.SANDFLEET_TEST_CACHE ? { cacheDir: process.env.SANDFLEET_TEST_CACHE } : {}),
  test: {
    reporters: ["default", "./test/support/summary-reporter.ts"],
    // A failed assertion shows the whole value it saw (a row too many, named), never "…(5)".
    chaiConfig: { truncateThreshold: 0 },
    // The tests mostly wait on the engine and on pulumi, not on the CPU: on a
    // 2-core machine the default of one worker would run every file in turn.
    // With three, a fifth of the run's CPU stayed idle while each waited on a
    // sandbox's lifetime or an engine's start; four keep it busy.
    maxWorkers: 4,
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          testTimeout: 10_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["test/support/require-engine.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          // Attacks on the trust boundary, one file per attacker class, against a real engine.
          name: "security",
          include: ["test/security/**/*.test.ts"],
          globalSetup: ["test/support/require-engine.ts"],
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: "current-engine",
          include: ON_CURRENT_ENGINE,
          globalSetup: ["test/support/require-current-engine.ts"],
          // As a user points sandfleet at an engine; the parity suite's Kubernetes side runs in "parity".
          env: { DOCKER_HOST: currentEngineHost(), SANDFLEET_TEST_BACKENDS: "docker" },
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          // The same behaviours against the Docker engine and a real Kubernetes cluster, which it starts.
          name: "parity",
          // After the other projects, and after the cluster's fault drills, which lose a node.
          sequence: { groupOrder: 1 },
          include: ["test/parity/**/*.test.ts"],
          exclude: [KUBERNETES_FAULTS],
          globalSetup: PARITY_SETUP,
          testTimeout: 600_000,
          hookTimeout: 600_000,
        },
      },
      {
        test: {
          // The cluster's fault drills lose a node, which every other test on the cluster would
          // feel: they run first, beside the projects that use no cluster (the cluster starts with
          // the run), and give the node back Ready and untainted before the parity tests begin.
          // Most of a drill is waiting on the cluster's grace periods, which the others' work fills.
          name: "parity-faults",
          include: [KUBERNETES_FAULTS],
          globalSetup: PARITY_SETUP,
          testTimeout: 600_000,
          hookTimeout: 600_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          globalSetup: [
            "test/support/require-engine.ts",
            "test/support/require-pulumi.ts",
            "test/support/require-build.ts",
          ],
          testTimeout: 600_000,
          hookTimeout: 600_000,
          // Each stack has an app (or an engine) of its own, so they run side by side.
        },
      },
      {
        test: {
          // A thousand containers made and removed: alone on the engine, after `npm test` (.ci/run),
          // one file at a time (`npm run test:scale` says --no-file-parallelism): the egress drill's
          // second engine takes its networks from the same address pools as the pool's app network.
          name: "scale",
          include: ["test/scale/**/*.test.ts"],
          globalSetup: ["test/support/require-engine.ts"],
          testTimeout: 1_800_000,
          hookTimeout: 1_800_000,
        },
      },
    ],
  },
});
