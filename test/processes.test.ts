// Stopping process groups for real: a group whose leader is gone still gets stopped, and a pid that
// now names another process is never signalled.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "vitest";
import { groupAlive, isAlive, processExecutable, processStartTicks, startProcess, stopProcessGroup } from "../infra/runtime/processes.ts";
import { stateFileText } from "../lib/state-file.ts";
import { STACK_STATE_FORMAT } from "../infra/runtime/state.ts";
import { eventually } from "./support/stack.ts";
import { runCli } from "./support/run-cli.ts";

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

describe("npm stop and a recorded pid that names another process now", () => {
  it("stops the processes that are still the recorded ones, and never signals a reused pid", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lb-processes-"));
    const ours = await startProcess({ name: "web-a", command: "sleep", args: ["30"], logFile: join(dir, "a.log") });
    const stranger = await startProcess({ name: "unrelated", command: "sleep", args: ["30"], logFile: join(dir, "b.log") });
    try {
      // web-b's pid was recorded when another process had it: its start time does not match any more.
      // prometheus's matches (a pid reused within one clock tick), but the program it runs does not.
      const processes = [
        { name: "web-a", pid: ours.pid, startTicks: processStartTicks(ours.pid), executable: processExecutable(ours.pid) },
        { name: "web-b", pid: stranger.pid, startTicks: processStartTicks(stranger.pid)! - 1 },
        { name: "prometheus", pid: stranger.pid, startTicks: processStartTicks(stranger.pid), executable: "prometheus" },
      ];
      writeFileSync(join(dir, "stack.json"), stateFileText(STACK_STATE_FORMAT, { startedAt: new Date().toISOString(), processes: processes.map((p) => ({ ...p, state: "running" as const, restarts: 0 })) }));
      const result = await runCli("infra/runtime/cli.ts", ["stop", "--run-dir", dir]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /^stopped 1 processes from /);
      assert.equal(isAlive(ours.pid), false, "the recorded process was not stopped");
      assert.equal(isAlive(stranger.pid), true, "a process that merely reuses a recorded pid was signalled");
    } finally {
      await stopProcessGroup(ours.pid, 1000);
      await stopProcessGroup(stranger.pid, 1000);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
