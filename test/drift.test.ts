// npm run drift against the real local stack: what is changed behind the topology's back over the
// admin socket or on disk is reported in the plan's words; set back, the stack is in sync again.
import assert from "node:assert/strict";
import { appendFileSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { runtimeCommand } from "../haproxy/runtime-api.ts";
import { parseShowStat, serverStates } from "../haproxy/show-stat.ts";
import { killProcessGroup } from "../infra/runtime/processes.ts";
import { recordedProcesses } from "../infra/runtime/stack.ts";
import { eventually, runDirWithTopology, startTestStack, type TestStack } from "./support/stack.ts";
import { runCli } from "./support/run-cli.ts";
import { judgeDrift } from "../infra/gitops/drift.ts";
import { parseTopology } from "../infra/model/parse.ts";
import { seedTopology } from "./support/topologies.ts";
import { topology as canaryExample } from "../infra/topologies/canary.ts";
import { rolloutExpectation, rolloutWeights } from "../infra/gitops/rollout-policy.ts";

describe("npm run drift on a running stack", () => {
  let running: TestStack;
  let topologyFile: string;
  const drift = (...args: string[]) => runCli("infra/gitops/drift-cli.ts", ["--run-dir", running.runDir, "--topology", topologyFile, ...args]);
  const admin = (command: string) => runtimeCommand({ path: running.stack.plan.sockets.admin }, command);
  const status = async (server: string) => serverStates(parseShowStat(await admin("show stat"))).find((s) => s.server === server)?.status;

  beforeAll(async () => {
    running = await startTestStack();
    topologyFile = join(running.runDir, "topology.json");
    writeFileSync(topologyFile, JSON.stringify(running.topology));
  });
  afterAll(() => running?.cleanup());

  it("right after start: in sync, exit 0", async () => {
    const result = await drift();
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "In sync. The running load balancer matches the topology.\n");
  });

  it("a weight and a state changed over the socket, and the config edited on disk: each reported, exit 2", async () => {
    await admin("set server flask_servers/web-a weight 3");
    await admin("set server flask_servers/web-b state maint");
    const config = join(running.runDir, "haproxy.cfg");
    const original = readFileSync(config, "utf8");
    appendFileSync(config, "# edited by hand\n");
    try {
      const result = await drift();
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stdout, /^Drift: 3 differences between the running load balancer and the topology\.$/m);
      assert.match(result.stdout, /^~ backends\.flask_servers\.servers\.web-a\.weight: 3 → 1   \(runtime: set server flask_servers\/web-a weight 1\)$/m);
      assert.match(result.stdout, /^~ backends\.flask_servers\.servers\.web-b\.disabled: true → false   \(runtime: set server flask_servers\/web-b state ready\)$/m);
      assert.match(result.stdout, /^! haproxy\.cfg on disk was changed after HAProxy loaded it/m);
      const json = JSON.parse((await drift("--format", "json")).stdout);
      assert.equal(json.inSync, false);
      assert.deepEqual(json.drift.map((c: { path: string }) => c.path), ["backends.flask_servers.servers.web-a.weight", "backends.flask_servers.servers.web-b.disabled"]);
      assert.equal(json.configFile.length, 1);
    } finally {
      writeFileSync(config, original);
      await admin("set server flask_servers/web-a weight 1");
      await admin("set server flask_servers/web-b state ready");
    }
  });

  it("set back: in sync again", async () => {
    assert.ok(await eventually(async () => (await status("web-b")) === "UP", 10_000));
    const result = await drift();
    assert.equal(result.code, 0, result.stdout);
    assert.match(result.stdout, /^In sync\./);
  });

  it("a server drained by hand is drift too", async () => {
    await admin("set server flask_servers/web-a state drain");
    try {
      const result = await drift();
      assert.equal(result.code, 2);
      assert.match(result.stdout, /^~ backends\.flask_servers\.servers\.web-a\.state: drain → ready   \(runtime: set server flask_servers\/web-a state ready\)$/m);
    } finally {
      await admin("set server flask_servers/web-a state ready");
    }
  });

  it("a change in the working tree not applied yet is listed as such", async () => {
    const edited = structuredClone(running.topology);
    edited.backends[0]!.servers[1]!.weight = 5;
    const file = join(running.runDir, "edited.json");
    writeFileSync(file, JSON.stringify(edited));
    const result = await runCli("infra/gitops/drift-cli.ts", ["--run-dir", running.runDir, "--topology", file]);
    assert.equal(result.code, 2);
    assert.match(result.stdout, /In the topology, not applied yet \(running → topology; npm run apply\):\n~ backends\.flask_servers\.servers\.web-b\.weight: 1 → 5   \(runtime: /);
  });

  it("a server DOWN because its check fails is operational state, not drift: exit 0", async () => {
    const pid = (await recordedProcesses(running.runDir))!.find((p) => p.name === "web-b")!.pid;
    await killProcessGroup(pid);
    assert.ok(await eventually(async () => (await status("web-b"))?.startsWith("DOWN") ?? false, 10_000));
    const result = await drift();
    assert.equal(result.code, 0, result.stdout);
    assert.match(result.stdout, /^In sync\.[\s\S]*Operational state \(not drift\):\n  flask_servers\/web-b is DOWN \(check: L4CON\): its health check fails/m);
  });
});

describe("npm run drift with no stack running", () => {
  it("cannot tell: exit 1, says so and how to start one", async () => {
    const { runDir, file } = await runDirWithTopology();
    const result = await runCli("infra/gitops/drift-cli.ts", ["--run-dir", runDir, "--topology", file]);
    rmSync(runDir, { recursive: true, force: true });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error STACK_NOT_RUNNING: no stack is running from .*: start one with npm start -- --detach --run-dir /);
  });
});

describe("judgeDrift: an old worker still draining after a reload", () => {
  it("is operational state, said with its pid, never drift", () => {
    const topology = parseTopology(seedTopology());
    const servers = topology.backends[0]!.servers.map((s) => ({ backend: topology.backends[0]!.name, name: s.name, address: "127.0.0.1", port: s.port, weight: s.weight, adminState: "ready", status: "UP", checkStatus: "L7OK", rise: s.rise, fall: s.fall }));
    const observation = { servers, algorithms: new Map([[topology.backends[0]!.name, "roundrobin"]]), drainingWorkers: [4242] } as unknown as Parameters<typeof judgeDrift>[2];
    const report = judgeDrift(topology, topology, observation, { loaded: "a", onDisk: "a", rendered: "a" });
    assert.ok(report.operational.some((line) => /old worker 4242 still finishes the connections it had before a reload .*hard-stop-after 30s/.test(line)), report.operational.join("\n"));
    assert.ok(!JSON.stringify(report.drift).includes("4242"));
  });
});

describe("judgeDrift: a canary rollout in progress", () => {
  const topology = parseTopology(canaryExample);
  const backend = topology.backends[0]!;
  const state = { backend: backend.name, canary: backend.canary!.servers!, steps: [10, 50, 100], step: 1, phase: "running" as const };
  const observed = (weights: Record<string, number>) =>
    ({
      servers: backend.servers.map((s) => ({ backend: backend.name, name: s.name, address: "127.0.0.1", port: s.port, weight: weights[s.name], adminState: "ready", status: "UP", checkStatus: "L7OK", rise: s.rise, fall: s.fall })),
      algorithms: new Map([[backend.name, "roundrobin"]]),
    }) as unknown as Parameters<typeof judgeDrift>[2];
  const judge = (observation: Parameters<typeof judgeDrift>[2]) => judgeDrift(topology, topology, observation, { loaded: "a", onDisk: "a", rendered: "a" });

  it("the step's weights are expected while it runs or pauses, and said so, never drift", () => {
    const weights = rolloutWeights(topology, state)!;
    assert.ok(weights["web-c"]! > 0, JSON.stringify(weights));
    const report = judge({ ...observed(weights), rollouts: new Map([[backend.name, { percent: 50, phase: "running", weights }]]) });
    assert.deepEqual(report.drift, []);
    assert.equal(report.inSync, true);
    assert.ok(report.operational.some((l) => /a canary rollout of flask_servers is running at 50 %: its step's weights are expected/.test(l)), report.operational.join("\n"));
  });

  it("the same weights with no rollout to explain them are drift", () => {
    const report = judge(observed(rolloutWeights(topology, state)!));
    assert.ok(report.drift.some((c) => c.path === "backends.flask_servers.servers.web-c.weight"), JSON.stringify(report.drift));
  });

  it("a weight off the step's is drift under a rollout too", () => {
    const weights = rolloutWeights(topology, state)!;
    const report = judge({ ...observed({ ...weights, "web-a": weights["web-a"]! + 7 }), rollouts: new Map([[backend.name, { percent: 50, phase: "running", weights }]]) });
    assert.deepEqual(report.drift.map((c) => c.path), ["backends.flask_servers.servers.web-a.weight"]);
  });

  it("aborted with onAbort move-sessions: the canary in maintenance is expected and said so; another server in maintenance is drift", () => {
    const aborted = rolloutExpectation(topology, { ...state, phase: "aborted" })!;
    assert.deepEqual(aborted, { phase: "aborted", maintenance: ["web-c"] });
    const configured = { "web-a": 1, "web-b": 1, "web-c": 0 };
    const inMaint = (names: string[]) => {
      const o = observed(configured);
      for (const server of (o as any).servers) if (names.includes(server.name)) Object.assign(server, { adminState: "maint", status: "MAINT" });
      return { ...o, rollouts: new Map([[backend.name, aborted]]) };
    };
    const report = judge(inMaint(["web-c"]));
    assert.deepEqual(report.drift, []);
    assert.ok(report.operational.some((l) => /web-c of flask_servers stay in maintenance after an aborted rollout/.test(l)), report.operational.join("\n"));
    assert.deepEqual(judge(inMaint(["web-a", "web-c"])).drift.map((c) => c.path), ["backends.flask_servers.servers.web-a.disabled"]);
    assert.equal(rolloutExpectation({ backends: [{ ...backend, canary: { ...backend.canary!, onAbort: "keep-sessions" } }] }, { ...state, phase: "aborted" }), undefined);
  });

  it("promoted, aborted or past its last step: no step weights (the configured ones hold)", () => {
    for (const phase of ["promoted", "aborted"] as const) assert.equal(rolloutWeights(topology, { ...state, phase }), undefined);
    assert.equal(rolloutWeights(topology, { ...state, step: 3 }), undefined);
    assert.deepEqual(rolloutWeights(topology, { ...state, phase: "paused" }), rolloutWeights(topology, state));
  });
});
