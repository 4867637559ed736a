import type { Reporter, TestModule, TestRunEndReason } from "vitest/node";

/**
 * Ends the run with one plain line, `Tests: N passed, N failed, N skipped`,
 * counted per project too, so a log reader need not parse vitest's table;
 * before it, the slowest files, which are where a faster suite starts.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(
    testModules: readonly TestModule[],
    unhandledErrors: readonly unknown[],
    reason: TestRunEndReason,
  ): void {
    const counts = new Map<string, { passed: number; failed: number; skipped: number }>();
    for (const module of testModules) {
      const project = module.project.name || "default";
      const count = counts.get(project) ?? { passed: 0, failed: 0, skipped: 0 };
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") count.passed++;
        else if (state === "failed") count.failed++;
        else count.skipped++;
      }
      // A module that failed to load has no tests but is still a failure.
      if (module.state() === "failed" && [...module.children.allTests()].length === 0) count.failed++;
      counts.set(project, count);
    }
    const total = { passed: 0, failed: 0, skipped: 0 };
    for (const [project, c] of [...counts].sort()) {
      console.log(`${project}: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`);
      total.passed += c.passed;
      total.failed += c.failed;
      total.skipped += c.skipped;
    }
    const slowest = testModules
      .map((module) => ({
        name: module.moduleId.split("/test/").pop() ?? module.moduleId,
        ms: module.diagnostic().duration,
      }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 12);
    for (const { name, ms } of slowest) console.log(`slowest: ${(ms / 1000).toFixed(1)} s ${name}`);
    // A global setup that threw (no engine, no pulumi) fails the run with no test failed.
    if (reason === "failed" && total.failed === 0) total.failed = Math.max(1, unhandledErrors.length);
    console.log(`Tests: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
  }
}
