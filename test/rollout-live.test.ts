// npm run rollout on the real local stack, its steps judged in the stack's own Prometheus (scraping
// the sidecar): a canary that answers 500 to 20 % of its requests is aborted at its first analysis,
// with every weight back on the stable servers and no request failed by them; a healthy canary is
// promoted through every step with no failed request; the command killed between steps is resumed.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { runtimeCommand } from "../haproxy/runtime-api.ts";
import { field, parseShowStat } from "../haproxy/show-stat.ts";
import { parseTopology } from "../infra/model/parse.ts";
import type { Topology } from "../infra/model/schema.ts";
import { withFreePorts } from "../infra/runtime/ports.ts";
import { topology as canaryExample } from "../infra/topologies/canary.ts";
import { backgroundTraffic, TrafficClient } from "../verification/traffic.ts";
import { eventually, startTopologyStack, type TestStack } from "./support/stack.ts";
import { REPO_ROOT, runCli } from "./support/run-cli.ts";

const WEBHOOK_ENV = "LB_TEST_ROLLOUT_WEBHOOK_URL";

describe("npm run rollout on the local stack, judged in its Prometheus", () => {
  let topology: Topology;
  let running: TestStack;
  const backend = "flask_servers";
  const port = (server: string) => topology.backends[0]!.servers.find((s) => s.name === server)!.port!;
  const fault = (errors: number, delayMs = 0, delayed = 1) => fetch(`http://127.0.0.1:${port("web-c")}/fault?errors=${errors}&delay_ms=${delayMs}&delayed=${delayed}`, { method: "POST" }).then((r) => r.json());
  const weights = async () => Object.fromEntries(parseShowStat(await runtimeCommand({ path: running.stack.plan.sockets.admin }, "show stat")).rows.filter((r) => r.kind === "server" && r.proxy === backend).map((r) => [r.name, Number(field(r, "weight"))]));
  const rollout = (...args: string[]) => runCli("infra/gitops/rollout-cli.ts", [backend, "--run-dir", running.runDir, ...args], { timeoutMs: 120_000 });
  const state = () => JSON.parse(readFileSync(join(running.runDir, `rollout-${backend}.json`), "utf8"));
  const interval = 5000;
  let topologyFile: string;
  let webhook: Server;
  const notifications: { alerts: { status: string; labels: Record<string, string> }[] }[] = [];
  const delivered = (alertname: string) => notifications.some((n) => n.alerts.some((a) => a.status === "firing" && a.labels.alertname === alertname && a.labels.backend === backend));
  /** Runs `fn` under bounded background traffic to the frontend; returns what it returned and the traffic's samples. */
  const underTraffic = async <T>(fn: () => Promise<T>) => {
    const client = new TrafficClient(`http://127.0.0.1:${topology.frontends[0]!.binds[0]!.port}/`, { connections: 2 });
    // Bounded by time more than by count: about a thousand requests a second here, for as long as a rollout takes.
    const traffic = backgroundTraffic(client, { concurrency: 2, maxMs: 80_000, maxRequests: 150_000 });
    try {
      return { result: await fn(), samples: traffic.samples };
    } finally {
      await traffic.stop();
      await client.close();
    }
  };

  beforeAll(async () => {
    const input = structuredClone(canaryExample) as any;
    input.backends[0].canary = { ...input.backends[0].canary, steps: [50, 100], interval: "5s", analysis: { successRatio: 0.99, maxResponseMs: 500, minRequests: 10 } };
    input.services = {
      ...input.services,
      sidecar: { port: 9101, pollInterval: "1s" },
      prometheus: { port: 9090, scrapeInterval: "1s", evaluationInterval: "1s" },
      alertmanager: { port: 9093, groupWait: "1s", groupInterval: "1s", repeatInterval: "1h", webhooks: [{ name: "test", urlFromEnv: WEBHOOK_ENV }] },
    };
    topology = parseTopology(await withFreePorts(input));
    // Alertmanager posts to this test's webhook: the abort's alert is seen where a team would get it.
    webhook = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk) => (body += chunk));
      request.on("end", () => {
        notifications.push(JSON.parse(body));
        response.end();
      });
    });
    await new Promise<void>((listening) => webhook.listen(0, "127.0.0.1", listening));
    process.env[WEBHOOK_ENV] = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/alerts`;
    running = await startTopologyStack(topology, { sidecar: true });
    topologyFile = join(running.runDir, "canary-topology.json");
    writeFileSync(topologyFile, JSON.stringify(topology));
  }, 90_000);
  afterAll(async () => {
    await running?.cleanup();
    await new Promise((closed) => webhook?.close(closed));
    delete process.env[WEBHOOK_ENV];
  });

  it("before a rollout the canary is checked UP but takes no traffic (weight 0)", async () => {
    assert.deepEqual(await weights(), { "web-a": 1, "web-b": 1, "web-c": 0 });
  });

  it("a tester pinned by the canary's header reaches it at weight 0, even carrying a stable server's persistence cookie; others never do", async () => {
    const frontend = `http://127.0.0.1:${topology.frontends[0]!.binds[0]!.port}/`;
    const answeredBy = async (headers: Record<string, string>) => ((await (await fetch(frontend, { headers })).json()) as { server: string }).server;
    for (let i = 0; i < 5; i++) assert.equal(await answeredBy({ "X-Canary": "always" }), "web-c");
    assert.equal(await answeredBy({ "X-Canary": "always", cookie: `${topology.backends[0]!.cookie!.name}=web-a` }), "web-c");
    const others = new Set<string>();
    for (let i = 0; i < 10; i++) others.add(await answeredBy({ "X-Canary": "sometimes" }));
    assert.deepEqual([...others].sort(), ["web-a", "web-b"]);
  });

  it("a canary whose p99 is slow (5 % of its answers take 700 ms, its average well under the bound): aborted at its first analysis, its pinned sessions moved, HAProxyRolloutAborted at the webhook", async () => {
    await fault(0, 700, 0.05);
    const { result } = await underTraffic(() => rollout("--topology", topologyFile)).finally(() => fault(0));
    assert.equal(result.code, 1, result.stdout + result.stderr);
    const judged = /aborted: 1 failed analyses \(limit 1\): p99 response time over 500 ms: ([\d.]+) % of the answers slower \(at most 1\.0 %\)/.exec(result.stderr);
    assert.ok(judged, result.stderr);
    // 5 % drawn at random over one interval's answers (a hundred or two; increase() extrapolates): well over 1 %, far from all.
    assert.ok(Number(judged[1]) > 1 && Number(judged[1]) < 30, `about 5 % slower: ${judged[1]} %`);
    // HAProxy's own average (rtime, its last 1024 answers) would have let it through.
    const row = parseShowStat(await runtimeCommand({ path: running.stack.plan.sockets.admin }, "show stat")).rows.find((r) => r.proxy === backend && r.name === "web-c")!;
    assert.ok(Number(field(row, "rtime")) < 500, `web-c's average response time: ${field(row, "rtime")} ms`);
    assert.deepEqual(await weights(), { "web-a": 1, "web-b": 1, "web-c": 0 });
    // onAbort move-sessions (the default): the canary in maintenance, so a session its cookie pinned there moves to a stable server.
    assert.match((await runtimeCommand({ path: running.stack.plan.sockets.admin }, "show stat")).split("\n").find((l) => l.startsWith(`${backend},web-c,`)) ?? "", /,MAINT,/);
    const cookie = `${topology.backends[0]!.cookie!.name}=web-c`;
    for (let i = 0; i < 4; i++) assert.notEqual(((await (await fetch(`http://127.0.0.1:${topology.frontends[0]!.binds[0]!.port}/`, { headers: { cookie } })).json()) as { server: string }).server, "web-c");
    // The abort's alert where a team gets it: sidecar poll, a scrape, an evaluation, Alertmanager's group_wait.
    assert.ok(await eventually(async () => delivered("HAProxyRolloutAborted"), 20_000, 250), `HAProxyRolloutAborted not at the webhook: ${JSON.stringify(notifications).slice(0, 400)}`);
  });

  it("a canary answering 500 to 20 % of its requests: aborted at its first analysis, weights back on the stable servers, none of their requests failed", async () => {
    await fault(0.2);
    const started = Date.now();
    const { result, samples: sampled } = await underTraffic(() => rollout()).finally(() => fault(0));
    const took = Date.now() - started;
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stderr, /aborted: 1 failed analyses \(limit 1\): success ratio \d+\.\d % of \d+ answers, below 99\.0 %/);
    assert.equal(state().phase, "aborted");
    assert.deepEqual(await weights(), { "web-a": 1, "web-b": 1, "web-c": 0 });
    // One interval at the first step, then the abort: within interval × failureLimit plus one interval (and the command's start).
    assert.ok(took < 2 * interval + 5000, `aborted after ${took} ms`);
    const samples = sampled();
    const stableFailed = samples.filter((s) => s.server !== "web-c" && (s.error !== undefined || s.status !== 200));
    assert.deepEqual(stableFailed.slice(0, 3), [], `${stableFailed.length} requests failed on the stable servers`);
    assert.ok(samples.some((s) => s.server === "web-c" && s.status === 500), "the canary's faults were seen by clients during its step");
    // What HAProxyRolloutAborted reads.
    const metrics = await (await fetch(`http://127.0.0.1:${topology.services.sidecar.port}/metrics`)).text();
    assert.match(metrics, /^haproxy_sidecar_rollout_phase\{backend="flask_servers",phase="aborted"\} 1$/m);
    assert.match(metrics, /^haproxy_sidecar_rollout_failed_analyses\{backend="flask_servers"\} 1$/m);
  });

  it("a healthy canary: promoted through every step, no request failed, the canary alone at the end", async () => {
    const { result, samples } = await underTraffic(() => rollout());
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.deepEqual(state().history.map((h: { percent: number; verdict: string }) => [h.percent, h.verdict]), [[50, "pass"], [100, "pass"]]);
    assert.deepEqual(await weights(), { "web-a": 0, "web-b": 0, "web-c": 1 });
    const failed = samples().filter((s) => s.error !== undefined || s.status !== 200);
    assert.deepEqual(failed.slice(0, 3), [], `${failed.length} of ${samples().length} requests failed`);
    assert.ok(samples().some((s) => s.server === "web-c"));
    const status = await rollout("--status");
    assert.match(status.stdout, /^flask_servers: promoted \(every step passed/);
    // Recorded as what runs: the applied record and the config on disk say so, and drift finds nothing.
    const applied = JSON.parse(readFileSync(join(running.runDir, "applied.json"), "utf8"));
    assert.deepEqual(applied.topology.backends[0].servers.map((s: { name: string; weight: number }) => [s.name, s.weight]), [["web-a", 0], ["web-b", 0], ["web-c", 1]]);
    assert.match(readFileSync(join(running.runDir, "haproxy.cfg"), "utf8"), /^    server web-c 127\.0\.0\.1:\d+ check .*weight 1 /m);
    // The promoted topology is what a pull request would now say: against it, HAProxy's weights, the config on disk and the record agree.
    const promotedFile = join(running.runDir, "promoted-topology.json");
    writeFileSync(promotedFile, JSON.stringify(applied.topology));
    const drift = await runCli("infra/gitops/drift-cli.ts", ["--run-dir", running.runDir, "--topology", promotedFile]);
    assert.equal(drift.code, 0, drift.stdout + drift.stderr);
    assert.match(drift.stdout, /^In sync\./);
  });

  it("Prometheus not answering mid-rollout: the step pauses, says why, and goes on once it answers again", { timeout: 90_000 }, async () => {
    const prometheus = running.stack.processes.find((p) => p.spec.name === "prometheus")!;
    const { result } = await underTraffic(async () => {
      const run = rollout("--topology", topologyFile);
      // Frozen (SIGSTOP) during the first step: its queries time out.
      await new Promise((r) => setTimeout(r, 1000));
      process.kill(prometheus.pid, "SIGSTOP");
      try {
        assert.ok(await eventually(async () => state().phase === "paused", 20_000), "the rollout paused");
        assert.match(state().reason, /^Prometheus did not answer/);
        assert.equal(state().step, 0, "held at its step");
      } finally {
        process.kill(prometheus.pid, "SIGCONT");
      }
      return run;
    });
    assert.equal(result.code, 0, result.stderr);
    const verdicts = state().history.map((h: { percent: number; verdict: string }) => `${h.percent} ${h.verdict}`);
    assert.equal(verdicts[0], "50 inconclusive");
    assert.deepEqual(verdicts.slice(-2), ["50 pass", "100 pass"]);
  });

  it("the command killed during a step: drift expects the step's weights; the next run says it resumes, at that step", async () => {
    // The promoted rollout has ended: this run starts afresh at its first step, and is killed there.
    await underTraffic(async () => {
      // The applied record has no canary now (promoted): the run takes it from the topology file.
      const child = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), join(REPO_ROOT, "infra/gitops/rollout-cli.ts"), backend, "--run-dir", running.runDir, "--topology", topologyFile], { stdio: "ignore" });
      assert.ok(await eventually(async () => state().phase === "running" && state().pid === child.pid, 10_000), "the first run is at its first step");
      assert.ok(await eventually(async () => (await weights())["web-c"]! > 0, 10_000), "its first step's weights are set");
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
      // Left at a step, the weights are the step's: drift expects them (and says why), it does not report them.
      const drift = await runCli("infra/gitops/drift-cli.ts", ["--run-dir", running.runDir, "--topology", topologyFile, "--format", "json"]);
      const report = JSON.parse(drift.stdout);
      assert.deepEqual(report.drift.filter((c: { path: string }) => c.path.endsWith(".weight")), [], drift.stdout);
      assert.ok(report.operational.some((l: string) => /a canary rollout of flask_servers is running at 50 %/.test(l)), drift.stdout);
      const resumed = await rollout("--topology", topologyFile);
      assert.match(resumed.stderr, /resuming the rollout of flask_servers at step 1 of 2 \(50 %\): the process that ran it \(pid \d+\) is gone/);
      assert.equal(resumed.code, 0, resumed.stderr);
    });
  });

  it("npm run apply of a change that brings a canary: applied, then its rollout started by itself and promoted, no request failed", { timeout: 120_000 }, async () => {
    // Promoted above: the stack runs web-c as a stable server; the topology file declares it the canary again.
    const { result, samples } = await underTraffic(async () => {
      const apply = await runCli("infra/gitops/apply-cli.ts", ["--topology", topologyFile, "--run-dir", running.runDir, "--no-verify"], { timeoutMs: 60_000 });
      const started = /the rollout of flask_servers's canary started \(pid (\d+), output in (\S+)\)/.exec(apply.stdout);
      assert.ok(started, apply.stdout + apply.stderr);
      const pid = Number(started[1]);
      try {
        assert.ok(await eventually(async () => state().pid === pid && state().phase === "promoted", 60_000, 500), `the rollout started by apply is ${state().phase}: ${readFileSync(started[2]!, "utf8")}`);
      } finally {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          /* ended by itself */
        }
      }
      return apply;
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^applied (at runtime|by a hitless reload)/m);
    assert.deepEqual(state().history.map((h: { percent: number; verdict: string }) => `${h.percent} ${h.verdict}`), ["50 pass", "100 pass"]);
    const failed = samples().filter((s) => s.error !== undefined || s.status !== 200);
    assert.deepEqual(failed.slice(0, 3), [], `${failed.length} requests failed`);
  });
});
