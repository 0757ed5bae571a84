// The master CLI's "show proc", parsed from answers captured from HAProxy 2.6, and how a reload is judged.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "vitest";
import fc from "fast-check";
import { judgeReload, parseShowProc, parseUptime } from "../haproxy/master-cli.ts";
import { StatParseError } from "../haproxy/errors.ts";

const fixture = (name: string) => readFileSync(new URL(`./fixtures/haproxy-2.6/${name}`, import.meta.url), "utf8");

describe("parseShowProc", () => {
  it("after a reload with a connection still open: the new worker, and the old one finishing it", () => {
    assert.deepEqual(parseShowProc(fixture("show-proc-old-worker.txt")), {
      master: { pid: 22078, reloads: 4, failedReloads: 0, uptimeSeconds: 17 },
      workers: [{ pid: 22479, reloads: 0, uptimeSeconds: 1 }],
      oldWorkers: [{ pid: 22357, reloads: 1, uptimeSeconds: 9 }],
    });
  });

  it("after a reload HAProxy refused: failed 1, the same worker goes on", () => {
    const proc = parseShowProc(fixture("show-proc-failed-reload.txt"));
    assert.equal(proc.master.failedReloads, 1);
    assert.deepEqual(proc.workers.map((w) => w.pid), [22154]);
    assert.deepEqual(proc.oldWorkers, []);
  });

  it("refuses an answer that is not show proc's, with a typed error", () => {
    for (const text of ["Unknown command.\n", "22078 master x\n", ""]) assert.throws(() => parseShowProc(text), StatParseError);
  });

  it("never throws anything but StatParseError (property)", () => {
    fc.assert(fc.property(fc.string(), (text) => {
      try {
        parseShowProc(text);
      } catch (error) {
        assert.ok(error instanceof StatParseError, String(error));
      }
    }));
  });

  it("reads uptimes in days, hours, minutes and seconds", () => {
    assert.equal(parseUptime("1d02h03m04s"), 93_784);
  });
});

describe("judgeReload", () => {
  const before = parseShowProc(fixture("show-proc-old-worker.txt"));
  const row = (pid: number) => ({ pid, reloads: 0, uptimeSeconds: 0 });

  it("took: the master counted a reload and a worker is new", () => {
    assert.deepEqual(judgeReload(before, { ...before, master: { ...before.master, reloads: 5 }, workers: [row(23000)] }), { took: true, newWorkers: [23000] });
  });
  it("failed: the master counted a failed reload and kept the old worker", () => {
    const outcome = judgeReload(before, { ...before, master: { ...before.master, reloads: 5, failedReloads: 1 } });
    assert.equal(outcome.took, false);
    assert.match((outcome as { reason: string }).reason, /reload failed \(failed: 1\)/);
  });
  it("not yet: the master has not reloaded", () => {
    assert.deepEqual(judgeReload(before, before), { took: false, reason: "the master has not reloaded yet" });
  });
});
