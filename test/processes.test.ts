// Stopping process groups for real: a group whose leader is gone still gets stopped.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "vitest";
import { groupAlive, isAlive, startProcess, stopProcessGroup } from "../infra/runtime/processes.ts";
import { eventually } from "./support/stack.ts";

describe("stopProcessGroup", () => {
  it("stops a group whose leader has exited but whose worker still runs", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lb-processes-"));
    try {
      // The leader starts a long sleep in its own group, then exits: an orphaned worker.
      const leader = await startProcess({ name: "orphaner", command: "sh", args: ["-c", "sleep 30 & exit 0"], logFile: join(dir, "log") });
      assert.ok(await eventually(async () => !isAlive(leader.pid), 5000, 20), "the leader did not exit");
      assert.equal(groupAlive(leader.pid), true, "the worker should still run");
      await stopProcessGroup(leader.pid, 2000);
      assert.equal(groupAlive(leader.pid), false, "the worker was left running");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
