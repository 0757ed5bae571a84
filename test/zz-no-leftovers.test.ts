// Runs last (files run one at a time, in name order): whatever any test started, it stopped.
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { processesMentioning } from "./support/stack.ts";

describe("after the whole suite", () => {
  it("no process started by a test is left running (test run directories are tmp/lb-*)", () => {
    assert.deepEqual(processesMentioning(join(tmpdir(), "lb-")), []);
  });
});
