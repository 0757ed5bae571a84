// The run directory's state files survive crashes: each has a schema version and is checked on read,
// and one that is empty, cut short or from another version is a one-line error naming the file and
// the fix, never a stack trace and never "no stack running". The stack's processes stay findable
// (each carries the run directory in its environment), so npm stop stops them all even then.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { markedProcessGroups } from "../infra/runtime/processes.ts";
import { isPortFree } from "../infra/runtime/ports.ts";
import { runCli } from "./support/run-cli.ts";
import { runDirWithTopology } from "./support/stack.ts";

const noStackTrace = (text: string) => !/\n\s+at /.test(text);

describe("state files that cannot be read, on a running stack started with npm start -- --detach", () => {
  let runDir: string;
  let topologyFile: string;
  let ports: number[];
  const file = (name: string) => join(runDir, name);
  const cli = (script: string, args: string[]) => runCli(script, [...args, "--run-dir", runDir], { timeoutMs: 90_000 });
  const apply = () => cli("infra/gitops/apply-cli.ts", ["--topology", topologyFile, "--no-verify"]);

  beforeAll(async () => {
    ({ runDir, file: topologyFile } = await runDirWithTopology());
    const topology = JSON.parse(readFileSync(topologyFile, "utf8"));
    ports = [topology.frontends[0].binds[0].port, topology.monitoring.port, ...topology.backends[0].servers.map((s: { port: number }) => s.port)];
    const started = await cli("infra/runtime/cli.ts", ["start", "--detach", "--topology", topologyFile]);
    assert.equal(started.code, 0, started.stderr);
  });

  afterAll(async () => {
    if (!runDir) return;
    await cli("infra/runtime/cli.ts", ["stop"]);
    assert.deepEqual(markedProcessGroups(runDir), [], "processes of the run directory are left");
    rmSync(runDir, { recursive: true, force: true });
  });

  it("every state file it wrote carries its schema version", () => {
    for (const name of ["stack.json", "applied.json", "expected-distribution.json"]) assert.equal(JSON.parse(readFileSync(file(name), "utf8")).schemaVersion, 1, name);
  });

  it("an empty apply.lock: apply says which file and what to do, in one line", async () => {
    writeFileSync(file("apply.lock"), "");
    try {
      const result = await apply();
      assert.equal(result.code, 1);
      assert.ok(noStackTrace(result.stderr), result.stderr);
      assert.match(result.stderr, /STATE_FILE_CORRUPT: .*apply\.lock \(the lock of the apply in progress\) is empty: .*remove it and run again/);
    } finally {
      rmSync(file("apply.lock"), { force: true });
    }
  });

  it("a truncated applied.json: apply names the file, never 'no stack is running'", async () => {
    const good = readFileSync(file("applied.json"), "utf8");
    writeFileSync(file("applied.json"), good.slice(0, Math.floor(good.length / 2)));
    try {
      const result = await apply();
      assert.equal(result.code, 1);
      assert.ok(noStackTrace(result.stderr), result.stderr);
      assert.doesNotMatch(result.stderr, /no stack is running/);
      assert.match(result.stderr, /STATE_FILE_CORRUPT: .*applied\.json \(.*\) is not whole JSON, perhaps cut short .*: .*npm stop, then npm start/);
    } finally {
      writeFileSync(file("applied.json"), good);
    }
    const again = await apply();
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /nothing to apply/);
  });

  it("a stack.json from an older version: status says so and counts the processes; npm stop stops every one of them", async () => {
    const groups = markedProcessGroups(runDir);
    assert.ok(groups.length >= 5, `only ${groups.length} marked process groups`);
    const { schemaVersion: _version, ...older } = JSON.parse(readFileSync(file("stack.json"), "utf8"));
    writeFileSync(file("stack.json"), JSON.stringify(older));

    const status = await cli("infra/runtime/cli.ts", ["status"]);
    assert.equal(status.code, 1);
    assert.match(status.stdout, /stack\.json was written by an older version of the stack \(schema without a version, this one reads 1\): npm stop finds/);
    assert.match(status.stdout, new RegExp(`${groups.length} process groups of .* run`));

    const stopped = await cli("infra/runtime/cli.ts", ["stop"]);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.ok(noStackTrace(stopped.stderr), stopped.stderr);
    assert.match(stopped.stderr, /found by their LB_RUN_DIR instead, and the file was kept as stack\.json\.unreadable/);
    assert.deepEqual(markedProcessGroups(runDir), []);
    for (const port of ports) assert.equal(await isPortFree(port), true, `port ${port} is still taken`);
    assert.ok(existsSync(file("stack.json.unreadable")));
    assert.ok(!existsSync(file("stack.json")));
  });
});
