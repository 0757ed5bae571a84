// npm test runs `vitest run` with this: one file at a time (the stack tests share loopback ports
// and the machine's 2 cores), timeouts that fit a stack start, and a summary reporter that fails the
// run if any process a test started is still alive, then prints a closing "N passed, N failed" line.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    fileParallelism: false,
    pool: "forks",
    testTimeout: 120_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    globalSetup: ["test/support/global-setup.ts"],
    reporters: ["default", "./test/support/summary-reporter.ts"],
  },
});
