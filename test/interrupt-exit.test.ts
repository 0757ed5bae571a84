// An interrupted command exits with the signal's code after its cleanups, even when killing its
// child made its main fail first (the child's error is the interrupt's doing, not a bug to report).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "vitest";
import { REPO_ROOT } from "./support/run-cli.ts";

describe("an interrupted command's exit", () => {
  it("is 143 after SIGTERM, with no 'unexpected error', though its child died before the cleanups ended", async () => {
    const command = spawn(process.execPath, ["--import", "tsx", join(REPO_ROOT, "test/fixtures/interrupt/child-dies-first.ts")], { cwd: REPO_ROOT, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    const ready = new Promise<void>((done) => command.stderr.on("data", (d) => (stderr += d) && /ready/.test(stderr) && done()));
    const exited = new Promise<number | null>((done) => command.once("close", (code) => done(code)));
    await ready;
    command.kill("SIGTERM");
    assert.equal(await exited, 143, stderr);
    assert.doesNotMatch(stderr, /unexpected error/);
    assert.match(stderr, /SIGTERM: stopping what this command started \(2\)/);
  });
});
