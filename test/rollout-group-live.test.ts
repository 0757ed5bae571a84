// A discovered group as the canary, on the real local stack (infra/topologies/canary-group.ts):
// web-a and web-b listed are the stable set, the instances behind next.lb.internal the canary.
// Before a rollout the group's slots are UP at weight 0 and only pinned testers reach them; rolled
// out under traffic while npm run scale grows the group mid-step, the weights follow the slots in
// traffic (the group keeps its step's share), and the promotion records the grown group.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { runtimeCommand } from "../haproxy/runtime-api.ts";
import { field, parseShowStat } from "../haproxy/show-stat.ts";
import { parseTopology } from "../infra/model/parse.ts";
import type { Topology } from "../infra/model/schema.ts";
import { withFreePorts } from "../infra/runtime/ports.ts";
import { topology as groupCanaryExample } from "../infra/topologies/canary-group.ts";
import { backgroundTraffic, TrafficClient } from "../verification/traffic.ts";
import { eventually, startTopologyStack, type TestStack } from "./support/stack.ts";
import { runCli } from "./support/run-cli.ts";

describe("a discovered group as the canary on the local stack", () => {
  let topology: Topology;
  let running: TestStack;
  const backend = "flask_servers";
  /** Each server's weight and status as HAProxy holds them now. */
  const servers = async () => parseShowStat(await runtimeCommand({ path: running.stack.plan.sockets.admin }, "show stat")).rows.filter((r) => r.kind === "server" && r.proxy === backend).map((r) => ({ name: r.name, weight: Number(field(r, "weight")), status: field(r, "status") ?? "" }));
  /** The group's share of the weights HAProxy holds for the servers in traffic. */
  const groupShare = async () => {
    const up = (await servers()).filter((s) => s.status.startsWith("UP"));
    const total = up.reduce((n, s) => n + s.weight, 0);
    return up.filter((s) => s.name.startsWith("next")).reduce((n, s) => n + s.weight, 0) / total;
  };
  const frontend = () => `http://127.0.0.1:${topology.frontends[0]!.binds[0]!.port}/`;
  const state = () => JSON.parse(readFileSync(join(running.runDir, `rollout-${backend}.json`), "utf8"));

  beforeAll(async () => {
    const input = structuredClone(groupCanaryExample) as any;
    input.backends[0].canary = { ...input.backends[0].canary, steps: [50, 100], interval: "8s", analysis: { successRatio: 0.99, maxResponseMs: 500, minRequests: 10 } };
    input.services = { ...input.services, sidecar: { port: 9101, pollInterval: "1s" }, prometheus: { port: 9090, scrapeInterval: "1s", evaluationInterval: "1s" } };
    topology = parseTopology(await withFreePorts(input));
    running = await startTopologyStack(topology, { sidecar: true });
  }, 90_000);
  afterAll(async () => {
    await running?.cleanup();
  }, 60_000);

  it("before a rollout: the group's instances UP in their slots at weight 0; requests reach web-a and web-b, a pinned tester the group", async () => {
    const ok = await eventually(async () => (await servers()).filter((s) => s.name.startsWith("next") && s.status.startsWith("UP")).length === 2, 15_000);
    assert.ok(ok, JSON.stringify(await servers()));
    assert.ok((await servers()).filter((s) => s.name.startsWith("next")).every((s) => s.weight === 0));
    const answeredBy = async (headers: Record<string, string> = {}) => ((await (await fetch(frontend(), { headers })).json()) as { server: string }).server;
    const plain = new Set<string>();
    for (let i = 0; i < 10; i++) plain.add(await answeredBy());
    assert.deepEqual([...plain].sort(), ["web-a", "web-b"]);
    for (let i = 0; i < 4; i++) assert.match(await answeredBy({ "X-Canary": "always" }), /^next-\d$/);
  });

  it("rolled out under traffic, the group grown by npm run scale mid-step: the weights follow its slots, its share holds, promoted with no failed request", { timeout: 120_000 }, async () => {
    const client = new TrafficClient(frontend(), { connections: 2 });
    const traffic = backgroundTraffic(client, { concurrency: 2, maxMs: 60_000, maxRequests: 80_000 });
    try {
      const rollout = runCli("infra/gitops/rollout-cli.ts", [backend, "--run-dir", running.runDir], { timeoutMs: 90_000 });
      assert.ok(await eventually(async () => { try { return state().phase === "running" && state().weights?.next1 > 0; } catch { return false; } }, 10_000), "the first step started");
      const before = state().weights.next1;
      assert.ok(Math.abs((await groupShare()) - 0.5) < 0.02, `two slots at 50 %: ${JSON.stringify(await servers())}`);

      const scale = await runCli("infra/gitops/scale-cli.ts", [backend, "3", "--run-dir", running.runDir], { timeoutMs: 30_000 });
      assert.equal(scale.code, 0, scale.stdout + scale.stderr);
      assert.ok(await eventually(async () => state().weights.next1 < before, 3000), `the weights followed the third slot: ${JSON.stringify(state())}`);
      assert.equal(state().step, 0, "still the first step: the interval outlasts the scale");
      assert.ok(Math.abs((await groupShare()) - 0.5) < 0.02, `three slots at 50 %: ${JSON.stringify(await servers())}`);

      const result = await rollout;
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(result.stderr, /next has 3 slots in traffic now: the weights follow \(the canary keeps 50 %\)/);
      assert.deepEqual(state().history.map((h: { percent: number; verdict: string }) => [h.percent, h.verdict]), [[50, "pass"], [100, "pass"]]);
      const failed = traffic.samples().filter((s) => s.error !== undefined || s.status !== 200);
      assert.deepEqual(failed.slice(0, 3), [], `${failed.length} of ${traffic.samples().length} requests failed`);
      assert.ok(traffic.samples().some((s) => s.server === "next-3"), "the instance the scale added took traffic");
    } finally {
      await traffic.stop();
      await client.close();
    }
    const after = await servers();
    assert.deepEqual(after.filter((s) => s.name.startsWith("web")).map((s) => s.weight), [0, 0]);
    assert.deepEqual(after.filter((s) => s.status.startsWith("UP") && s.name.startsWith("next")).map((s) => s.weight), [1, 1, 1]);
    // The promotion is recorded from what runs: the group grown to 3, no canary, the listed servers at 0.
    const applied = JSON.parse(readFileSync(join(running.runDir, "applied.json"), "utf8"));
    const promoted = applied.topology.backends[0];
    assert.equal(promoted.canary, undefined);
    assert.equal(promoted.discovery.instances, 3);
    const promotedFile = join(running.runDir, "promoted-topology.json");
    writeFileSync(promotedFile, JSON.stringify(applied.topology));
    const drift = await runCli("infra/gitops/drift-cli.ts", ["--run-dir", running.runDir, "--topology", promotedFile]);
    assert.equal(drift.code, 0, drift.stdout + drift.stderr);
    assert.match(drift.stdout, /^In sync\./);
  });
});
