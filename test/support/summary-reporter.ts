// The suite's last lines: every skipped test with the reason it gave, any process a test left
// running (killed now, and counted as a failure), then one plain line "N passed, N failed,
// N skipped" that any CI reading the log understands.
import type { Reporter, TestModule } from "vitest/node";
import { killLeftoverProcesses } from "./leftover-processes.ts";

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    const lines: string[] = [];
    for (const module of modules) {
      for (const test of module.children.allTests()) {
        const result = test.result();
        if (result.state === "passed") counts.passed++;
        else if (result.state === "failed") counts.failed++;
        else if (result.state === "skipped") {
          counts.skipped++;
          lines.push(`skipped: ${test.fullName}: ${result.note ?? "(no reason given)"}`);
        }
      }
      // A file that failed to load (or whose hooks failed) ran no test: count it as a failure.
      if (module.state() === "failed" && ![...module.children.allTests()].some((t) => t.result().state === "failed")) counts.failed++;
    }
    counts.failed += unhandledErrors.length;
    const left = killLeftoverProcesses();
    if (left.length > 0) {
      counts.failed++;
      process.exitCode = 1;
      lines.push(`FAIL: tests left ${left.length} processes running (now killed):`, ...left.map((p) => `  ${p.pid}: ${p.command}`));
    }
    lines.push(`${counts.passed} passed, ${counts.failed} failed${counts.skipped ? `, ${counts.skipped} skipped` : ""}`);
    process.stdout.write(`\n${lines.join("\n")}\n`);
  }
}
