// npm test runs `vitest run` with this: one file at a time (the stack tests share loopback ports
// and the machine's 2 cores), timeouts that fit a stack start, and a summary reporter that fails the
// run if any process a test started is still alive, then prints a closing "N passed, N failed" line.
import { defineConfig } from "vitest/config";

/**
 * npm run test:fast: the files that start no stack (the model, the renderer with haproxy -c, the plan,
 * the parsers, the stacks at synth level), for the edit-and-check loop; npm test runs every file.
 */
const FAST_TIER = [
  "architecture", "model", "render", "render-directives", "render-properties", "error-pages", "plan", "distribution",
  "sidecar-parse", "sidecar-self-metrics", "compressed-exposition", "verify-judge", "verify-expectations", "alert-rules",
  "docker-stack", "kubernetes-stack", "deploy-sequence", "engine-config", "master-cli", "workflows", "image-sources", "terraform-diff",
  "routing-model", "routing-differential", "tcp-model", "config-parser", "import", "import-roundtrip", "import-compare", "certificates", "rollout", "interrupt-exit", "acme-refusals", "certs-follow-live", "connection-limits-live", "map-follow-live", "login-hashes", "run-bundled",
].map((name) => `test/${name}.test.ts`);

export default defineConfig({
  test: {
    include: process.env.TEST_TIER === "fast" ? FAST_TIER : ["test/**/*.test.ts"],
    fileParallelism: false,
    pool: "forks",
    testTimeout: 120_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    globalSetup: ["test/support/global-setup.ts"],
    reporters: ["default", "./test/support/summary-reporter.ts"],
  },
});
