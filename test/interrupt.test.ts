// A long command interrupted stops what it started: npm run bench under a timeout's SIGTERM, in the
// middle of a suite that runs a stack and a load generator, leaves no process behind.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { describe, it } from "vitest";
import { processesWithEnvironment } from "./support/leftover-processes.ts";
import { eventually } from "./support/stack.ts";
import { REPO_ROOT } from "./support/run-cli.ts";

const MARK = "LB_INTERRUPT_TEST";

describe("npm run bench, interrupted", () => {
  it("by SIGTERM while its traffic suite runs: it stops its stack, HAProxy and wrk, and exits 143", async () => {
    const mark = randomUUID();
    const bench = spawn(process.execPath, ["--import", "tsx", "bench/run.ts", "--only", "traffic"], { cwd: REPO_ROOT, env: { ...process.env, [MARK]: mark }, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    bench.stderr.on("data", (d) => (stderr += d));
    const exited = new Promise<number | null>((done) => bench.once("close", (code) => done(code)));
    try {
      const started = () => processesWithEnvironment(MARK, mark).filter((p) => p.pid !== bench.pid);
      // Well into the suite: HAProxy serves and wrk loads it.
      assert.ok(await eventually(async () => started().some((p) => /^wrk /.test(p.command)) && started().some((p) => /^haproxy /.test(p.command)), 90_000, 200), `never saw HAProxy and wrk: ${stderr}`);
      const before = started().length;
      bench.kill("SIGTERM");
      assert.equal(await exited, 143, stderr);
      assert.match(stderr, /bench: SIGTERM: stopping what this command started \(\d+\)/);
      assert.ok(before >= 3, `only ${before} processes were running`);
      assert.deepEqual(started().map((p) => p.command), []);
    } finally {
      bench.kill("SIGKILL");
      for (const p of processesWithEnvironment(MARK, mark)) process.kill(p.pid, "SIGKILL");
    }
  });
});
