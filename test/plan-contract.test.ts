// The plan is the contract: for each kind of change, the plan's actions on the local stack are
// exactly what npm run apply then did to the real stack (which processes started, stopped or
// restarted, by their pids; whether HAProxy got a new worker), and a saved plan is applied exactly
// once, refused when what runs is no longer its base.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { parseShowProc } from "../haproxy/master-cli.ts";
import { runtimeCommand } from "../haproxy/runtime-api.ts";
import { recordedProcesses } from "../infra/runtime/stack.ts";
import { startTestStack, type TestStack } from "./support/stack.ts";
import { runCli } from "./support/run-cli.ts";

describe("the plan's local actions against what apply did, on a running stack", () => {
  let running: TestStack;
  let current: any;
  const file = (name: string) => join(running.runDir, name);
  const apply = (...args: string[]) => runCli("infra/gitops/apply-cli.ts", ["--run-dir", running.runDir, "--no-verify", ...args], { timeoutMs: 90_000 });
  const workers = async () => parseShowProc(await runtimeCommand({ path: running.stack.plan.sockets.master }, "show proc")).workers.map((w) => w.pid);
  const pids = async () => new Map(((await recordedProcesses(running.runDir)) ?? []).map((p) => [p.name, p.pid]));

  /** What happened to each process between two snapshots, as plan actions name it. */
  async function observe(before: Map<string, number>, workersBefore: number[]): Promise<string[]> {
    const after = await pids();
    const seen: string[] = [];
    for (const [name, pid] of after) {
      if (!before.has(name)) seen.push(`create ${name}`);
      else if (before.get(name) !== pid) seen.push(`restart ${name}`);
    }
    for (const name of before.keys()) if (!after.has(name)) seen.push(`destroy ${name}`);
    if (JSON.stringify(await workers()) !== JSON.stringify(workersBefore)) seen.push("reload haproxy");
    return seen.sort();
  }

  beforeAll(async () => {
    running = await startTestStack((t) => (t.global.hardStopAfter = "3s"), { sidecar: true });
    current = structuredClone(running.topology);
  });
  afterAll(() => running?.cleanup());

  const cases: [string, (t: any) => void][] = [
    ["a server weight", (t) => (t.backends[0].servers[0].weight = 3)],
    ["a timeout", (t) => (t.defaults.timeouts.connect = "4s")],
    ["an Alertmanager setting", (t) => (t.services.alertmanager.groupWait = "7s")],
    ["Prometheus's scrape interval", (t) => (t.services.prometheus.scrapeInterval = "2s")],
    ["the rate limit", (t) => (t.frontends[0].rateLimit = { requests: 5000, window: "10s" })],
    ["a web server added", (t) => t.backends[0].servers.push({ ...t.backends[0].servers[1], name: "web-c", address: "web-c", port: t.backends[0].servers[1].port + 7, cookie: "web-c" })],
    ["a web server removed", (t) => t.backends[0].servers.pop()],
  ];
  for (const [name, edit] of cases) {
    it(`${name}: the saved plan's local actions are what apply did`, async () => {
      const head = structuredClone(current);
      edit(head);
      writeFileSync(file("head.json"), JSON.stringify(head));
      const planned = await apply("--topology", file("head.json"), "--dry-run", "--out", file("plan.json"));
      assert.equal(planned.code, 0, planned.stderr);
      const saved = JSON.parse(readFileSync(file("plan.json"), "utf8"));
      const expected = saved.plan.actions.filter((a: any) => a.target === "local" && a.action !== "runtime").map((a: any) => `${a.action === "reload" ? "reload" : a.action} ${a.component}`).sort();

      const [before, workersBefore] = [await pids(), await workers()];
      const applied = await apply("--plan", file("plan.json"));
      assert.equal(applied.code, 0, `${applied.stdout}\n${applied.stderr}`);
      assert.deepEqual(await observe(before, workersBefore), expected, applied.stdout);
      current = head;
    });
  }

  it("the same saved plan again: nothing to do, said as such", async () => {
    const again = await apply("--plan", file("plan.json"));
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /its head already runs: nothing to do/);
  });

  it("a saved plan whose base no longer runs: refused as stale, naming what moved, nothing touched", async () => {
    const stale = structuredClone(current);
    stale.backends[0].servers[0].weight = 5;
    writeFileSync(file("stale.json"), JSON.stringify(stale));
    assert.equal((await apply("--topology", file("stale.json"), "--dry-run", "--out", file("stale-plan.json"))).code, 0);
    const moved = structuredClone(current);
    moved.defaults.timeouts.client = "11s";
    writeFileSync(file("moved.json"), JSON.stringify(moved));
    assert.equal((await apply("--topology", file("moved.json"))).code, 0);
    const workersBefore = await workers();
    const refused = await apply("--plan", file("stale-plan.json"));
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error PLAN_STALE: .*stale-plan\.json was planned against another base than what runs now \(changed since it was planned: defaults\.timeouts\.client\): plan again/m);
    assert.deepEqual(await workers(), workersBefore);
  });

  it("a saved plan edited by hand: refused before anything runs", async () => {
    const saved = JSON.parse(readFileSync(file("stale-plan.json"), "utf8"));
    saved.head.topology.backends[0].servers[0].weight = 9;
    writeFileSync(file("edited-plan.json"), JSON.stringify(saved));
    const refused = await apply("--plan", file("edited-plan.json"));
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /STATE_FILE_CORRUPT: .*edited-plan\.json \(a saved plan\) does not hold what it should: head\.topology does not match head\.topologySha256/);
  });
});
