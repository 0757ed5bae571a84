// Progressive delivery's pure parts and its engine on a fake clock and a fake Prometheus: each
// step's weights, the analysis queries, the verdicts, and the rollout's transitions (promote, abort
// at the failure limit, pause when inconclusive, resume after a crash, abort on request).
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { topologyProblems } from "./support/topologies.ts";
import { checkHaproxyConfig } from "../infra/render/haproxy-check.ts";
import fc from "fast-check";
import { parseTopology } from "../infra/model/parse.ts";
import { RolloutBusyError } from "../infra/errors.ts";
import { analysisQueries, backendStepWeights, canaryShare, judgeAnalysis, promotedTopology, rolloutPreviews, stepWeights, type AnalysisMeasurement } from "../infra/gitops/rollout-policy.ts";
import { abortRollout, runRollout, type RolloutIo, type RolloutState } from "../infra/gitops/rollout.ts";
import { topology as canaryExample } from "../infra/topologies/canary.ts";
import { topology as groupCanaryExample } from "../infra/topologies/canary-group.ts";
import { renderHaproxyConfig } from "../infra/render/render.ts";
import { dockerTarget, kubernetesTarget, localTarget } from "../infra/render/targets.ts";
import { registerRolloutMetrics } from "../sidecar/rollouts.ts";
import { Registry } from "prom-client";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const server = (name: string, weight = 1, extra: { backup?: boolean; disabled?: boolean } = {}) => ({ name, weight, backup: false, disabled: false, ...extra });

describe("each step's weights: the canary's share of the traffic, in HAProxy's 1..256", () => {
  const servers = [server("web-a"), server("web-b"), server("web-c")];
  const cases: [string, ReturnType<typeof server>[], number, Record<string, number>][] = [
    ["before the rollout, or aborted (0 %): the stable servers alone, at their own weights", servers, 0, { "web-a": 1, "web-b": 1, "web-c": 0 }],
    ["10 %: web-c a ninth of web-a + web-b", servers, 10, { "web-a": 90, "web-b": 90, "web-c": 20 }],
    ["50 %", servers, 50, { "web-a": 50, "web-b": 50, "web-c": 100 }],
    ["100 %: the canary alone, at its own weight", servers, 100, { "web-a": 0, "web-b": 0, "web-c": 1 }],
    ["heavy weights are scaled down to 256", [server("web-a", 200), server("web-b", 200), server("web-c", 100)], 50, { "web-a": 128, "web-b": 128, "web-c": 256 }],
    ["a backup and a disabled server take no part", [...servers, server("spare", 1, { backup: true }), server("off", 1, { disabled: true })], 50, { "web-a": 50, "web-b": 50, "web-c": 100 }],
  ];
  for (const [name, list, percent, expected] of cases) it(name, () => assert.deepEqual(stepWeights(list, ["web-c"], percent), expected));

  it("for any weights and step, the canary's share is the step's (±1.5 %, rounding) and every weight fits HAProxy", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 256 }), { minLength: 1, maxLength: 5 }), fc.array(fc.integer({ min: 1, max: 256 }), { minLength: 1, maxLength: 3 }), fc.integer({ min: 1, max: 99 }), (stable, canary, percent) => {
        const list = [...stable.map((w, i) => server(`s${i}`, w)), ...canary.map((w, i) => server(`c${i}`, w))];
        const names = canary.map((_, i) => `c${i}`);
        const weights = stepWeights(list, names, percent);
        assert.ok(Object.values(weights).every((w) => Number.isInteger(w) && w >= 1 && w <= 256), JSON.stringify(weights));
        assert.ok(Math.abs(canaryShare(weights, names) - percent / 100) <= 0.015 + 1 / 256, `${percent} %: ${canaryShare(weights, names)}`);
      }),
    );
  });
});

describe("the analysis: what is measured in Prometheus, and what it means", () => {
  const backend = parseTopology(canaryExample).backends[0]!;
  const canary = backend.canary!;
  it("the queries measure the canary's servers (and the stable ones) over the interval", () => {
    const q = analysisQueries(backend, "20s");
    assert.equal(q.requests, 'sum(increase(haproxy_server_http_responses_total{proxy="flask_servers",server=~"web-c"}[20s]))');
    assert.equal(q.errors, 'sum(increase(haproxy_server_http_responses_total{proxy="flask_servers",server=~"web-c",code="5xx"}[20s]))');
    assert.equal(q.slow, 'sum(increase(haproxy_sidecar_server_slow_responses_total{proxy="flask_servers",server=~"web-c"}[20s]))');
    assert.equal(q.stableRequests, 'sum(increase(haproxy_server_http_responses_total{proxy="flask_servers",server=~"web-a|web-b"}[20s]))');
  });
  it("a custom query's placeholders are filled", () => {
    const withQuery = { ...canary, analysis: { ...canary.analysis, queries: [{ name: "q", query: 'rate(x{proxy="$backend",server=~"$canary"}[$window]) / rate(x{server=~"$stable"}[$window])', max: 2 }] } };
    const custom = analysisQueries({ ...backend, name: "b", servers: [backend.servers[2]!, { ...backend.servers[0]!, name: "a.1" }], canary: withQuery }, "1m").custom;
    assert.deepEqual(custom, [{ name: "q", query: 'rate(x{proxy="b",server=~"web-c"}[1m]) / rate(x{server=~"a\\\\.1"}[1m])', max: 2 }]);
  });
  const m = (over: Partial<AnalysisMeasurement>): AnalysisMeasurement => ({ requests: 100, errors: 0, slow: 0, stableRequests: 200, stableErrors: 0, custom: [], ...over });
  const cases: [string, AnalysisMeasurement, "pass" | "fail" | "inconclusive", RegExp][] = [
    ["healthy", m({}), "pass", /^success ratio 100\.0 % of 100 answers, at least 99\.0 % \(stable servers: 100\.0 %\)$/],
    ["20 % errors", m({ errors: 20 }), "fail", /^success ratio 80\.0 % of 100 answers, below 99\.0 %/],
    ["2 % of the answers slower than the bound: the p99 over it", m({ slow: 2 }), "fail", /^p99 response time over 500 ms: 2\.0 % of the answers slower \(at most 1\.0 %\)$/],
    ["1 % slower: the p99 still within it", m({ slow: 1 }), "pass", /^success ratio/],
    ["no count of slow answers (the sidecar's series missing)", m({ slow: undefined }), "inconclusive", /^no count of the canary's slow answers \(haproxy_sidecar_server_slow_responses_total\): its p99 response time is unknown$/],
    ["no data (a new series, Prometheus empty)", m({ requests: undefined, errors: undefined }), "inconclusive", /^no data for the canary's answers/],
    ["too few requests to judge", m({ requests: 5, errors: 0 }), "inconclusive", /^the canary answered 5 requests, fewer than 20: too few to judge$/],
    ["a custom query out of bounds", m({ custom: [{ name: "queue", value: 9, max: 3 }] }), "fail", /^queue = 9, outside -∞\.\.3$/],
    ["a custom query without a value", m({ custom: [{ name: "queue", max: 3 }] }), "inconclusive", /^queue: no value$/],
  ];
  for (const [name, measured, verdict, first] of cases) {
    it(`${name}: ${verdict}`, () => {
      const judged = judgeAnalysis(canary.analysis, measured);
      assert.equal(judged.verdict, verdict);
      assert.match(judged.findings[0]!, first);
    });
  }
});

/** A rollout's world: weights set, analyses answered from a script, a clock that advances by what is slept. */
function fakeWorld(answers: ("pass" | "fail" | "nodata" | "down")[], initial?: RolloutState, group?: { pattern: string; slotsInTraffic: (elapsedMs: number) => string[] }) {
  const start = Date.parse("2026-12-03T12:00:00Z");
  let clock = start;
  let state = initial;
  const weights: Record<string, number>[] = [];
  const adminStates: string[] = [];
  const logs: string[] = [];
  let analysis = 0;
  let abortAt: number | undefined;
  const io: RolloutIo = {
    setWeights: async (_b, w) => void weights.push(w),
    setAdminState: async (_b, servers, s) => void adminStates.push(`${servers.join(",")} ${s}`),
    slotsInTraffic: async () => group?.slotsInTraffic(clock - start) ?? [],
    async query(promql) {
      const answer = answers[Math.min(analysis, answers.length - 1)];
      if (promql.includes(`server=~"${group?.pattern ?? "web-c"}"`) && promql.startsWith("sum(increase(haproxy_server_http_responses_total") && !promql.includes("5xx")) analysis++;
      if (answer === "down") throw new Error("connect ECONNREFUSED 127.0.0.1:9090");
      if (answer === "nodata") return undefined;
      if (promql.includes("slow_responses")) return 0;
      if (promql.includes("5xx")) return answer === "fail" ? 30 : 0;
      return 100;
    },
    sleep: async (ms) => {
      clock += ms;
      if (abortAt !== undefined && clock >= abortAt && state) state = { ...state, abortRequested: true };
    },
    now: () => new Date(clock),
    recordPromotion: async () => void logs.push("recorded"),
    readState: async () => state,
    writeState: async (s) => void (state = s),
    alive: (pid) => pid === 4242,
    pid: 1000,
    log: (l) => void logs.push(l),
  };
  return { io, weights, adminStates, logs, state: () => state, abortAfter: (ms: number) => (abortAt = clock + ms) };
}

describe("the rollout: steps, verdicts, pauses, aborts, and a crash resumed", () => {
  const backend = parseTopology(canaryExample).backends[0]!;
  const share = (w: Record<string, number>) => Math.round(canaryShare(w, ["web-c"]) * 100);

  it("every analysis passing: each step's share in turn, then promoted", async () => {
    const world = fakeWorld(["pass"]);
    const state = await runRollout(backend, world.io);
    assert.equal(state.phase, "promoted");
    assert.deepEqual(world.weights.map(share), [10, 50, 100, 100]);
    assert.deepEqual(state.history.map((h) => [h.percent, h.verdict]), [[10, "pass"], [50, "pass"], [100, "pass"]]);
    assert.ok(world.logs.includes("recorded"), "the promotion recorded as what runs");
  });
  it("promoted, as a topology: the canary at its own weights, the former stable servers at 0, no canary left", () => {
    const promoted = promotedTopology(parseTopology(canaryExample), "flask_servers").backends[0]!;
    assert.equal(promoted.canary, undefined);
    assert.deepEqual(promoted.servers.map((s) => [s.name, s.weight]), [["web-a", 0], ["web-b", 0], ["web-c", 1]]);
  });
  it("a failed analysis at the failure limit: aborted, every weight back on the stable servers", async () => {
    const world = fakeWorld(["fail"]);
    const state = await runRollout(backend, world.io);
    assert.equal(state.phase, "aborted");
    assert.deepEqual(world.weights.at(-1), { "web-a": 1, "web-b": 1, "web-c": 0 });
    assert.match(state.reason!, /^1 failed analyses \(limit 1\): success ratio 70\.0 %/);
    assert.deepEqual(world.adminStates, ["web-c ready", "web-c maint"], "ready at the start (an earlier abort's maintenance undone), maintenance at the abort: sessions pinned to the canary move");
  });
  it("onAbort keep-sessions: aborted at weight 0 only, the canary never put in maintenance", async () => {
    const keeping = { ...backend, canary: { ...backend.canary!, onAbort: "keep-sessions" as const } };
    const world = fakeWorld(["fail"]);
    assert.equal((await runRollout(keeping, world.io)).phase, "aborted");
    assert.deepEqual(world.adminStates, ["web-c ready"]);
  });
  it("inconclusive (no data, then Prometheus down): paused on the same step, never promoted blind, then on", async () => {
    const world = fakeWorld(["nodata", "down", "pass"]);
    const state = await runRollout(backend, world.io);
    assert.equal(state.phase, "promoted");
    assert.deepEqual(state.history.map((h) => [h.percent, h.verdict]), [[10, "inconclusive"], [10, "inconclusive"], [10, "pass"], [50, "pass"], [100, "pass"]]);
    assert.match(state.history[1]!.findings[0]!, /^Prometheus did not answer: connect ECONNREFUSED/);
    assert.deepEqual(world.weights.map(share), [10, 50, 100, 100], "a step judged again keeps its weights: set once per step");
  });
  it("a state left by a process that died: resumed at its step, said so", async () => {
    const left: RolloutState = { backend: "flask_servers", canary: ["web-c"], steps: [10, 50, 100], step: 1, phase: "running", failures: 0, pid: 999, startedAt: "x", updatedAt: "x", history: [] };
    const world = fakeWorld(["pass"], left);
    const state = await runRollout(backend, world.io);
    assert.equal(state.phase, "promoted");
    assert.deepEqual(world.weights.map(share), [50, 100, 100]);
    assert.match(world.logs[0]!, /^resuming the rollout of flask_servers at step 2 of 3 \(50 %\): the process that ran it \(pid 999\) is gone$/);
  });
  it("a state held by a live process: refused (ROLLOUT_BUSY)", async () => {
    const held: RolloutState = { backend: "flask_servers", canary: ["web-c"], steps: [10, 50, 100], step: 0, phase: "running", failures: 0, pid: 4242, startedAt: "x", updatedAt: "x", history: [] };
    await assert.rejects(runRollout(backend, fakeWorld(["pass"], held).io), (e: unknown) => e instanceof RolloutBusyError && e.code === "ROLLOUT_BUSY");
  });
  it("an abort asked for while a step waits: aborted within the half-second poll", async () => {
    const world = fakeWorld(["pass"]);
    world.abortAfter(5000);
    const state = await runRollout(backend, world.io);
    assert.equal(state.phase, "aborted");
    assert.equal(state.reason, "asked for (npm run rollout -- --abort)");
    assert.deepEqual(world.weights.at(-1), { "web-a": 1, "web-b": 1, "web-c": 0 });
  });
  it("--abort on a rollout whose command is gone: weights back at once, aborted", async () => {
    const left: RolloutState = { backend: "flask_servers", canary: ["web-c"], steps: [10, 50, 100], step: 1, phase: "paused", failures: 0, pid: 999, startedAt: "x", updatedAt: "x", history: [] };
    const world = fakeWorld(["pass"], left);
    const aborted = await abortRollout(backend, world.io);
    assert.equal(aborted!.phase, "aborted");
    assert.deepEqual(world.weights, [{ "web-a": 1, "web-b": 1, "web-c": 0 }]);
    assert.deepEqual(world.adminStates, ["web-c maint"]);
  });
});

describe("the canary in the model and the config", () => {
  const problemsOf = (edit: (t: any) => void) => {
    const t: any = structuredClone(canaryExample);
    edit(t);
    return topologyProblems(t);
  };
  const cases: [string, (t: any) => void, string[]][] = [
    ["a canary server the backend does not list", (t) => (t.backends[0].canary.servers = ["web-z"]), ['backends.flask_servers.canary.servers[0]: "web-z" is not a server of this backend: list it in servers first']],
    ["every server in the canary", (t) => (t.backends[0].canary.servers = ["web-a", "web-b", "web-c"]), ["backends.flask_servers.canary.servers: every server is in the canary: keep at least one stable server to compare with and fall back to"]],
    ["steps that fall, or stop short of 100", (t) => (t.backends[0].canary.steps = [50, 10, 90]), ["backends.flask_servers.canary.steps[1]: 10 does not rise above 50: steps go up to 100", "backends.flask_servers.canary.steps: the last step is 100: the canary takes all the traffic before it is promoted"]],
    ["a pin on what a backend cannot see: a ClientHello's SNI, a named condition", (t) => (t.backends[0].canary.pin = { any: [{ sni: "a.example.com" }, { condition: "testers" }] }), ["backends.flask_servers.canary.pin: sni, condition: a pin tests the request itself (header, query, path, host, source...): a backend has no named conditions and sees no TLS ClientHello"]],
    ["a pin with a header value that would end the line", (t) => (t.backends[0].canary.pin = { header: { name: "X-Canary", equals: "on\nuse-server web-a" } }), ['backends.flask_servers.canary.pin.header.equals: "on\\nuse-server web-a" is not usable as a header value: use printable ASCII, no line breaks or control characters']],
  ];
  for (const [name, edit, expected] of cases) it(name, () => assert.deepEqual(problemsOf(edit), expected));
  it("HAProxy counts each server's answers slower than the bound (Tr) in a table of its own, before any other response rule, on the stick counter no frontend tracks with", async () => {
    const config = renderHaproxyConfig(parseTopology(canaryExample), localTarget("/run/lb"));
    const backend = config.slice(config.indexOf("backend flask_servers"));
    const responseRules = backend.split("\n").filter((l) => l.startsWith("    http-response"));
    assert.deepEqual(responseRules.slice(0, 3), [
      '    http-response set-var-fmt(txn.lb_response_ms) "%Tr"',
      "    http-response track-sc2 srv_name table lb_slow_flask_servers if { var(txn.lb_response_ms) -m int gt 500 }",
      "    http-response sc-inc-gpc0(2) if { var(txn.lb_response_ms) -m int gt 500 }",
    ]);
    assert.match(config, /^backend lb_slow_flask_servers\n    stick-table type string len 64 size 16 expire 24h store gpc0$/m);
    // A frontend's rateLimit takes sc0, its keyed limits sc1 and sc2: with all three, none is left.
    const crowded: any = structuredClone(canaryExample);
    crowded.frontends[0].rateLimit = { requests: 100, window: "10s" };
    crowded.frontends[0].rateLimits = [{ name: "by_user", key: { header: "X-User" }, limit: 100 }];
    assert.match(renderHaproxyConfig(parseTopology(crowded), localTarget("/run/lb")), /track-sc2 srv_name/);
    crowded.frontends[0].rateLimits.push({ name: "by_token", key: { header: "X-Token" }, limit: 100 });
    assert.deepEqual(topologyProblems(crowded), ["backends.flask_servers.canary: HAProxy counts the canary's slow answers on a stick counter, and the frontends' rate limits take all three: drop one frontend's rateLimit or a keyed rate limit"]);
    delete crowded.frontends[0].rateLimit;
    const sc0 = renderHaproxyConfig(parseTopology(crowded), localTarget("/run/lb"));
    assert.match(sc0, /^    http-response track-sc0 srv_name table lb_slow_flask_servers /m);
    await checkHaproxyConfig(sc0);
  });
  it("the canary's servers are configured at weight 0: checked, but no traffic until a rollout", () => {
    const config = renderHaproxyConfig(parseTopology(canaryExample), localTarget("/run/lb"));
    assert.match(config, /^    server web-c 127\.0\.0\.1:5003 check inter 500ms fall 2 rise 3 weight 0 cookie web-c$/m);
    assert.match(config, /^    server web-a 127\.0\.0\.1:5001 check inter 500ms fall 2 rise 3 weight 1 cookie web-a$/m);
  });
  it("a pin sends matching requests to the canary (use-server), several canary servers sharing them at random, each one's own rule the fallback for one down; haproxy -c accepts it", async () => {
    const one = renderHaproxyConfig(parseTopology(canaryExample), localTarget("/run/lb"));
    assert.match(one, /^    acl (\S+) req\.fhdr\(X-Canary\) -m str -- "always"\n(    http-response .*\n)*    use-server web-c if \1$/m);
    const two: any = structuredClone(canaryExample);
    two.backends[0].servers.push({ name: "web-d", address: "web-d", port: 5004, cookie: "web-d" });
    two.backends[0].canary.servers.push("web-d");
    two.backends[0].canary.pin = { any: [{ header: { name: "X-Canary", equals: "always" } }, { query: { name: "canary", present: true } }] };
    const config = renderHaproxyConfig(parseTopology(two), localTarget("/run/lb"));
    assert.deepEqual(config.split("\n").filter((l) => l.includes("use-server")).map((l) => l.trim().replace(/\b(header|query)_\d+\b/, "$1")), [
      "use-server web-c if header { rand(2) eq 0 }",
      "use-server web-d if header { rand(2) eq 1 }",
      "use-server web-c if header",
      "use-server web-d if header",
      "use-server web-c if query { rand(2) eq 0 }",
      "use-server web-d if query { rand(2) eq 1 }",
      "use-server web-c if query",
      "use-server web-d if query",
    ]);
    await checkHaproxyConfig(config);
  });
});

describe("the sidecar's rollout metrics, from the state files in the run directory", () => {
  it("phase, canary share, failed analyses and the last transition per backend; a corrupt file said and left out", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lb-rollout-metrics-"));
    try {
      const analysis = (verdict: "pass" | "fail" | "inconclusive") => ({ at: "2026-12-03T12:01:00Z", step: 0, percent: 10, verdict, findings: [] });
      const state: RolloutState = { backend: "web", canary: ["web-c"], steps: [10, 50, 100], step: 1, phase: "paused", failures: 2, pid: 1, startedAt: "2026-12-03T12:00:00Z", updatedAt: "2026-12-03T12:01:40Z", history: [analysis("fail"), analysis("pass"), analysis("fail"), analysis("inconclusive")] };
      writeFileSync(join(dir, "rollout-web.json"), JSON.stringify({ schemaVersion: 1, ...state }));
      writeFileSync(join(dir, "rollout-api.json"), '{"schemaVersion": 1, "backend": "api"}');
      const logged: string[] = [];
      const registry = new Registry();
      registerRolloutMetrics(registry, dir, (l) => logged.push(l));
      const text = await registry.metrics();
      assert.match(text, /^haproxy_sidecar_rollout_phase\{backend="web",phase="paused"\} 1$/m);
      assert.match(text, /^haproxy_sidecar_rollout_phase\{backend="web",phase="running"\} 0$/m);
      assert.match(text, /^haproxy_sidecar_rollout_canary_percent\{backend="web"\} 50$/m);
      assert.match(text, /^haproxy_sidecar_rollout_failed_analyses\{backend="web"\} 2$/m);
      for (const [verdict, n] of [["pass", 1], ["fail", 2], ["inconclusive", 1]]) assert.match(text, new RegExp(`^haproxy_sidecar_rollout_analyses\\{backend="web",verdict="${verdict}"\\} ${n}$`, "m"));
      assert.match(text, new RegExp(`^haproxy_sidecar_rollout_transition_timestamp_seconds\\{backend="web"\\} ${Date.parse(state.updatedAt) / 1000}$`, "m"));
      assert.doesNotMatch(text, /backend="api"/);
      assert.match(logged.join("\n"), /rollout-api\.json \(a canary rollout's state\) does not hold what it should/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a discovered group as the canary: the listed servers are the stable set, the group's slots the canary", () => {
  const backend = parseTopology(groupCanaryExample).backends[0]!;
  const slots = ["next1", "next2", "next3", "next4"];
  const canaryPart = (w: Record<string, number>, inTraffic: string[]) => canaryShare(Object.fromEntries(Object.entries(w).filter(([n]) => !n.startsWith("next") || inTraffic.includes(n))), inTraffic);

  it("each step's share holds for the slots in traffic, and every slot takes one weight (a slot DNS fills mid-step enters at its share)", () => {
    for (const inTraffic of [["next1"], ["next1", "next3"], ["next1", "next2", "next3", "next4"]]) {
      for (const percent of [10, 50]) {
        const weights = backendStepWeights(backend, percent, inTraffic);
        assert.equal(new Set(slots.map((s) => weights[s])).size, 1, JSON.stringify(weights));
        assert.ok(Math.abs(canaryPart(weights, inTraffic) - percent / 100) < 0.01, `${inTraffic.length} slots at ${percent} %: ${JSON.stringify(weights)}`);
      }
    }
  });
  it("0 % and 100 %: the stable servers alone, then the group alone, whatever DNS holds", () => {
    assert.deepEqual(backendStepWeights(backend, 0, ["next1"]), { "web-a": 1, "web-b": 1, next1: 0, next2: 0, next3: 0, next4: 0 });
    assert.deepEqual(backendStepWeights(backend, 100, []), { "web-a": 0, "web-b": 0, next1: 1, next2: 1, next3: 1, next4: 1 });
  });
  it("no slot in traffic yet: weighed as if one were (the stable servers keep the traffic meanwhile)", () => {
    assert.deepEqual(backendStepWeights(backend, 50, []), backendStepWeights(backend, 50, ["next2"]));
  });
  it("a listed canary beside a discovered stable group: the group's slots in traffic count as stable servers", () => {
    const mixed = { ...backend, servers: [...backend.servers, { ...backend.servers[0]!, name: "web-c" }], canary: { ...backend.canary!, group: undefined, servers: ["web-c"] } };
    const weights = backendStepWeights(mixed, 10, ["next1", "next2"]);
    const traffic = Object.fromEntries(Object.entries(weights).filter(([n]) => !["next3", "next4"].includes(n)));
    assert.ok(Math.abs(canaryShare(traffic, ["web-c"]) - 0.1) < 0.01, JSON.stringify(weights));
    assert.equal(weights.next3, weights.next1);
  });
  it("the analysis measures the group's slots by their prefix, the listed servers as the stable set", () => {
    const q = analysisQueries(backend, "20s");
    assert.equal(q.requests, 'sum(increase(haproxy_server_http_responses_total{proxy="flask_servers",server=~"next[1-9][0-9]*"}[20s]))');
    assert.equal(q.stableRequests, 'sum(increase(haproxy_server_http_responses_total{proxy="flask_servers",server=~"web-a|web-b"}[20s]))');
  });
  it("the rollout follows the slots in traffic: DNS adds an instance mid-step, the weights are set again and the share holds", async () => {
    const world = fakeWorld(["pass"], undefined, { pattern: "next[1-9][0-9]*", slotsInTraffic: (ms) => (ms < 12_000 ? ["next1", "next2"] : ["next1", "next2", "next3"]) });
    const state = await runRollout(backend, world.io);
    assert.equal(state.phase, "promoted");
    const atTen = world.weights.slice(0, 2);
    assert.deepEqual(atTen.map((w, i) => Math.round(canaryPart(w, i === 0 ? ["next1", "next2"] : ["next1", "next2", "next3"]) * 100)), [10, 10]);
    assert.ok(atTen[1]!.next1! < atTen[0]!.next1!, "three slots share the step: each weighs less");
    assert.ok(world.logs.some((l) => l === "next has 3 slots in traffic now: the weights follow (the canary keeps 10 %)"), world.logs.join("\n"));
    assert.deepEqual(world.adminStates[0], `${slots.join(",")} ready`);
    assert.match(world.logs[0]!, /^rollout of flask_servers: canary group next, steps 10, 50, 100 %/);
  });
  it("aborted: every slot back at 0, in maintenance (move-sessions), stable servers at their own weights", async () => {
    const world = fakeWorld(["fail"], undefined, { pattern: "next[1-9][0-9]*", slotsInTraffic: () => ["next1"] });
    assert.equal((await runRollout(backend, world.io)).phase, "aborted");
    assert.deepEqual(world.weights.at(-1), { "web-a": 1, "web-b": 1, next1: 0, next2: 0, next3: 0, next4: 0 });
    assert.deepEqual(world.adminStates.at(-1), `${slots.join(",")} maint`);
  });
  it("promoted, as a topology: the group at its weight, the listed servers at 0, no canary left", () => {
    const promoted = promotedTopology(parseTopology(groupCanaryExample), "flask_servers").backends[0]!;
    assert.equal(promoted.canary, undefined);
    assert.deepEqual(promoted.servers.map((s) => s.weight), [0, 0]);
    assert.equal(promoted.discovery!.weight, 1);
  });
  it("the plan names the group", () => {
    assert.match(rolloutPreviews(undefined, parseTopology(groupCanaryExample))[0]!.canary.join(), /^group next$/);
  });
  it("configured: the slots at weight 0 until a rollout; a pin sends testers to the first slot in traffic; haproxy -c accepts it on every target", async () => {
    const topology = parseTopology(groupCanaryExample);
    for (const target of [localTarget("/run/lb"), dockerTarget(), kubernetesTarget("lb")]) {
      const config = renderHaproxyConfig(topology, target);
      assert.match(config, /^    server-template next 4 \S+ check inter 500ms fall 2 rise 2 weight 0 /m);
      assert.deepEqual(config.split("\n").filter((l) => l.includes("use-server")).map((l) => l.trim()), slots.map((s) => `use-server ${s} if header_1`));
      await checkHaproxyConfig(config);
    }
  });
  const problemsOf = (edit: (t: any) => void) => {
    const t: any = structuredClone(groupCanaryExample);
    edit(t);
    return topologyProblems(t);
  };
  const cases: [string, (t: any) => void, string[]][] = [
    ["servers and group both", (t) => (t.backends[0].canary.servers = ["web-a"]), ["backends.flask_servers.canary: a canary is either servers (listed) or group (discovered): give exactly one"]],
    ["neither", (t) => delete t.backends[0].canary.group, ["backends.flask_servers.canary: a canary is either servers (listed) or group (discovered): give exactly one"]],
    ["another group's name", (t) => (t.backends[0].canary.group = "web"), ['backends.flask_servers.canary.group: "web" is not this backend\'s discovered group: its group is "next"']],
    ["a backend that discovers nothing", (t) => delete t.backends[0].discovery, ['backends.flask_servers.canary.group: "next": this backend discovers no group: add discovery, or list the canary\'s servers']],
    ["no listed server to be the stable set", (t) => (t.backends[0].servers = []), ["backends.flask_servers.canary.group: a group canary needs listed servers beside it: they are the stable set to compare with and fall back to"]],
    ["a pin on more slots than rules should test", (t) => (t.backends[0].discovery.maxServers = 101), ["backends.flask_servers.canary.pin: a pin on a group renders a rule per slot: at most 100 slots (maxServers is 101)"]],
  ];
  for (const [name, edit, expected] of cases) it(`refused: ${name}`, () => assert.deepEqual(problemsOf(edit), expected));
});
